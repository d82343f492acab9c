"""The three feeds: their topic names, dead-letter topics, contract files and tables.

Producers, the stream worker, the simulator and the SQL all name a feed through this module.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feed:
    name: str  # sales | footfall | tourists
    topic: str
    schema_file: str
    raw_table: str
    agg_table: str
    dims: tuple[str, ...]  # aggregate key columns besides minute and district
    measures: tuple[str, ...]  # summed columns of the raw table

    @property
    def dlq_topic(self) -> str:
        return f"{self.topic}.dlq"


SALES = Feed(
    "sales",
    "retail.sales.v1",
    "retail.sales.v1.schema.json",
    "sales_raw",
    "sales_agg_1m",
    ("sector",),
    ("amount", "txn_count"),
)
FOOTFALL = Feed(
    "footfall",
    "footfall.counts.v1",
    "footfall.counts.v1.schema.json",
    "footfall_raw",
    "footfall_agg_1m",
    (),
    ("entries", "exits"),
)
TOURISTS = Feed(
    "tourists",
    "tourism.arrivals.v1",
    "tourism.arrivals.v1.schema.json",
    "tourists_raw",
    "tourists_agg_1m",
    ("origin",),
    ("arrivals", "spend"),
)

GROUP_ID = "yzmon"  # the Faust app id, which is the workers' consumer group

FEEDS: dict[str, Feed] = {f.name: f for f in (SALES, FOOTFALL, TOURISTS)}
BY_TOPIC: dict[str, Feed] = {f.topic: f for f in FEEDS.values()}
