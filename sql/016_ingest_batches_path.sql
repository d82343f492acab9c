-- The path of each batch through the worker, to explain slow events (freshness tails) rather than average
-- them away. A row is one batch the landing agent took, per Kafka partition; batches that waited during a
-- write land together in the next one and share its write times (write_queued_at, write_started_at,
-- raw_landed_at), each keeping its own record times and taken_at. For an event at offset o of the row
-- (first_offset ≤ o ≤ last_offset): event_time → record time (the producer) → taken_at (the broker's fetch
-- and the batch's fill, which began at first_arrived_at) → write_queued_at (the feed's previous write) →
-- write_started_at (the writer's lock: other feeds' statements, rollup refreshes) → raw_landed_at (the raw
-- INSERT). lock_held_by names the statements that held the writer's lock from taken_at to write_started_at.
-- Rows landed before this migration hold 1970-01-01 in these times and an empty lock_held_by.
ALTER TABLE ingest_batches
    ADD COLUMN IF NOT EXISTS min_record_time DateTime64(3, 'Asia/Shanghai') COMMENT '最早消息时间戳(Kafka记录时间, 生产者创建时)' AFTER max_event_time,
    ADD COLUMN IF NOT EXISTS max_record_time DateTime64(3, 'Asia/Shanghai') COMMENT '最晚消息时间戳(Kafka记录时间, 生产者创建时)' AFTER min_record_time,
    ADD COLUMN IF NOT EXISTS first_arrived_at DateTime64(3, 'Asia/Shanghai') COMMENT '本批首条消息到达落库程序时间(开始凑批)' AFTER max_record_time,
    ADD COLUMN IF NOT EXISTS taken_at DateTime64(3, 'Asia/Shanghai') COMMENT '取批时间(落库程序取走本批消息, 含拉取等待与凑批)' AFTER first_arrived_at,
    ADD COLUMN IF NOT EXISTS prepared_at DateTime64(3, 'Asia/Shanghai') COMMENT '解码校验完成时间' AFTER taken_at,
    ADD COLUMN IF NOT EXISTS write_queued_at DateTime64(3, 'Asia/Shanghai') COMMENT '写入排队时间(同一数据流的上一次写入结束, 本次写入开始等写锁)' AFTER prepared_at,
    ADD COLUMN IF NOT EXISTS write_started_at DateTime64(3, 'Asia/Shanghai') COMMENT '写入开始时间(取得写锁, 开始写原始表)' AFTER write_queued_at,
    ADD COLUMN IF NOT EXISTS raw_landed_at DateTime64(3, 'Asia/Shanghai') COMMENT '原始表写入完成时间(事件可查询)' AFTER write_started_at,
    ADD COLUMN IF NOT EXISTS lock_held_by String COMMENT '取批至开始写原始表期间持有写锁的语句(所写的表)及毫秒数, 按耗时降序(如 sales_daily 272, footfall_raw 35)' AFTER raw_landed_at;
