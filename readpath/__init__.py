"""ClickHouse's HTTP interface, read-only, on the embedded store: the read path of every reader."""
