"""The Faust stream worker: validate events, land them in ClickHouse, keep 1-minute aggregates."""
