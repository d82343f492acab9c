-- Finer index granules for the minute aggregates: 1,024 rows instead of ClickHouse's 8,192.
-- The hourly and daily refreshes (streams/rollups.py) read a 商圈's touched minutes with FINAL; with 8,192-row
-- granules, sorted by (district, dimension, minute), each read took whole granules of every part around a window
-- of a few hours: a year's replay selected 27 rows per event landed. A granule's size is fixed when a table is
-- created, so each table is copied out, created again with the new granules, and copied back (what FINAL reads is
-- kept: a copy may keep only a minute's latest version). The views name the table, so they read the new one. On a
-- cluster the copies go through the Distributed tables, synchronously (distributed_foreground_insert), so each
-- is complete on its shards before the next statement drops its source.

CREATE TABLE IF NOT EXISTS sales_agg_1m__regrain AS sales_agg_1m
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute) ORDER BY (district, sector, minute)
SETTINGS index_granularity = 1024;
INSERT INTO sales_agg_1m__regrain SETTINGS distributed_foreground_insert = 1 SELECT * FROM sales_agg_1m;
DROP TABLE sales_agg_1m SYNC;
CREATE TABLE IF NOT EXISTS sales_agg_1m AS sales_agg_1m__regrain
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute) ORDER BY (district, sector, minute)
SETTINGS index_granularity = 1024;
INSERT INTO sales_agg_1m SETTINGS distributed_foreground_insert = 1 SELECT * FROM sales_agg_1m__regrain;
DROP TABLE sales_agg_1m__regrain SYNC;

CREATE TABLE IF NOT EXISTS footfall_agg_1m__regrain AS footfall_agg_1m
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute) ORDER BY (district, minute)
SETTINGS index_granularity = 1024;
INSERT INTO footfall_agg_1m__regrain SETTINGS distributed_foreground_insert = 1 SELECT * FROM footfall_agg_1m;
DROP TABLE footfall_agg_1m SYNC;
CREATE TABLE IF NOT EXISTS footfall_agg_1m AS footfall_agg_1m__regrain
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute) ORDER BY (district, minute)
SETTINGS index_granularity = 1024;
INSERT INTO footfall_agg_1m SETTINGS distributed_foreground_insert = 1 SELECT * FROM footfall_agg_1m__regrain;
DROP TABLE footfall_agg_1m__regrain SYNC;

CREATE TABLE IF NOT EXISTS tourists_agg_1m__regrain AS tourists_agg_1m
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute) ORDER BY (district, origin, minute)
SETTINGS index_granularity = 1024;
INSERT INTO tourists_agg_1m__regrain SETTINGS distributed_foreground_insert = 1 SELECT * FROM tourists_agg_1m;
DROP TABLE tourists_agg_1m SYNC;
CREATE TABLE IF NOT EXISTS tourists_agg_1m AS tourists_agg_1m__regrain
ENGINE = ReplacingMergeTree(computed_at) PARTITION BY toYYYYMM(minute) ORDER BY (district, origin, minute)
SETTINGS index_granularity = 1024;
INSERT INTO tourists_agg_1m SETTINGS distributed_foreground_insert = 1 SELECT * FROM tourists_agg_1m__regrain;
DROP TABLE tourists_agg_1m__regrain SYNC;
