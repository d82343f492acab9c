"""The 跨年夜 dead-counter replay landed in a chDB store through the worker's own sink, for the freshness tests.

Scenario ``new_years_eve_counter_death``: every counter of 解放碑—朝天门 stops at 23:50 on 31 December 2024 and
comes back at 02:00; 洪崖洞 and 大坪 report throughout. Footfall only (the feed the duty room watches), 30 and
31 December and 1 January, so that the counters known (the gates seen in the 7 days before) are all there.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import orjson

from schemas.feeds import FEEDS
from simulators.generate import day_events
from simulators.scenario import load
from streams.batch import Record, prepare
from streams.sink import ClickHouseSink
from yzcore.migrate import migrate
from yzcore.store import connect

ZONE = ZoneInfo("Asia/Shanghai")
SCENARIO = "new_years_eve_counter_death"
DISTRICTS = ["jiefangbei", "hongyadong", "daping"]
DAYS = [date(2024, 12, 30), date(2024, 12, 31), date(2025, 1, 1)]
DEATH = datetime(2024, 12, 31, 23, 50, tzinfo=ZONE)
REVIVAL = datetime(2025, 1, 1, 2, 0, tzinfo=ZONE)
DB = "counter_death"


def land_footfall(dsn: str, scenario: str, days: list[date], districts: list[str]) -> None:
    """The scenario's footfall of ``districts`` on ``days``, through the worker's sink."""
    sink = ClickHouseSink(dsn)
    feed = FEEDS["footfall"]
    marks: dict[tuple[int, str], datetime] = {}
    offset = 0
    for day in days:
        events = [e for _, e in day_events(load(scenario), 7, day, districts, ["footfall"])]
        records = [Record(feed.topic, 0, offset + i, orjson.dumps(e)) for i, e in enumerate(events)]
        offset += len(records)
        for i in range(0, len(records), 20000):
            batch = prepare(feed, records[i : i + 20000], datetime.now(UTC), timedelta(minutes=5), marks)
            asyncio.run(sink.land(batch))


def landed_dsn(chdb_dir: Path, db: str, scenario: str, days: list[date], districts: list[str]) -> str:
    """A migrated database holding a scenario's footfall (landed once per chDB directory)."""
    connect(f"chdb://{chdb_dir}").command(f"CREATE DATABASE IF NOT EXISTS {db}")
    dsn = f"chdb://{chdb_dir}?database={db}"
    client = connect(dsn)
    migrate(client)
    if client.query("SELECT count() FROM footfall_raw").result_rows[0][0] == 0:
        land_footfall(dsn, scenario, days, districts)
    return dsn


def counter_death_dsn(chdb_dir: Path) -> str:
    """The 跨年夜 dead-counter replay."""
    return landed_dsn(chdb_dir, DB, SCENARIO, DAYS, DISTRICTS)
