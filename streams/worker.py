"""Start the stream worker in this process: `python -m streams.worker`."""

from __future__ import annotations

import logging

from faust.worker import Worker

import streams.agents  # noqa: F401 - registers the landing agents on the app
from streams.app import app
from yzcore.store import open_engine


def main() -> None:
    settings = app.yz_settings
    logging.basicConfig(level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s %(message)s")
    engine = open_engine(settings.store_dsn)  # noqa: F841 - held for the process's life: the engine's configuration
    Worker(app, loglevel=settings.log_level).execute_from_commandline()


if __name__ == "__main__":
    main()
