-- Analyst-facing views: deduplicated raw events and aggregates with Chinese names joined in.
CREATE VIEW IF NOT EXISTS v_sales AS
SELECT event_id, event_time, toDate(event_time, 'Asia/Shanghai') AS day, district, sector,
       merchant_group, channel, amount, txn_count, source
FROM sales_raw FINAL;

CREATE VIEW IF NOT EXISTS v_footfall AS
SELECT event_id, event_time, toDate(event_time, 'Asia/Shanghai') AS day, district, gate,
       entries, exits, source
FROM footfall_raw FINAL;

CREATE VIEW IF NOT EXISTS v_tourists AS
SELECT event_id, event_time, toDate(event_time, 'Asia/Shanghai') AS day, district, origin,
       arrivals, spend, source
FROM tourists_raw FINAL;

CREATE VIEW IF NOT EXISTS v_sales_1m AS
SELECT minute, district, sector, amount, txn_count, events FROM sales_agg_1m FINAL;

CREATE VIEW IF NOT EXISTS v_footfall_1m AS
SELECT minute, district, entries, exits, occupancy, events FROM footfall_agg_1m FINAL;

CREATE VIEW IF NOT EXISTS v_tourists_1m AS
SELECT minute, district, origin, arrivals, spend, events FROM tourists_agg_1m FINAL;
