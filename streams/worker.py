"""Start the stream worker in this process: `python -m streams.worker`."""

from __future__ import annotations

import logging
import sys

from faust.worker import Worker

import streams.agents  # noqa: F401 - registers the landing agents on the app
from streams.app import EXIT_REFUSED, app, last_words
from streams.sink import insert_without_pandas
from streams.trim import PURGE, start_trimming
from yzcore.store import open_engine


def main() -> None:
    """Run the worker until it is stopped; after a write no retry can fix, exit non-zero with the reason."""
    insert_without_pandas()
    settings = app.yz_settings
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = open_engine(settings.store_dsn)  # held for the process's life: the engine's configuration
    # the embedded store's jemalloc is purged on a client of its own, so never behind the writer's lock
    purge = None if engine is None else lambda: engine.command(PURGE)
    start_trimming(settings.memory_trim_s, purge, soft_limit_mb=settings.memory_soft_limit_mb)
    try:
        Worker(app, loglevel=settings.log_level).execute_from_commandline()
    except SystemExit:
        if app.refused is None:
            raise
    if app.refused is not None:
        logging.shutdown()
        last_words(app.refused)
        sys.exit(EXIT_REFUSED)


if __name__ == "__main__":
    main()
