"""The core every process shares: settings, the ClickHouse store, migrations, the query library and targets.

It imports only the ground (`schemas`); producers, streams and the CLI build on it.
"""
