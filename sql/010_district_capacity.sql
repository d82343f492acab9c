-- Crowd capacity per 商圈 in dim_district, from schemas/reference/capacity.json (refilled by `yzmon db migrate`):
-- people inside at once, the warning and critical bands (shares of it, in whole people) and where the figure
-- comes from. Every crowd panel and the crowd alert rule read the bands from here, never a number of their own.
ALTER TABLE dim_district
    ADD COLUMN IF NOT EXISTS capacity UInt32 COMMENT '承载量(同一时刻在场人数)' AFTER kind,
    ADD COLUMN IF NOT EXISTS warning UInt32 COMMENT '预警线(在场人数, 承载量×预警比例)' AFTER capacity,
    ADD COLUMN IF NOT EXISTS critical UInt32 COMMENT '严重线(在场人数, 承载量×严重比例)' AFTER warning,
    ADD COLUMN IF NOT EXISTS warning_share Decimal(6, 4) COMMENT '预警比例(占承载量)' AFTER critical,
    ADD COLUMN IF NOT EXISTS critical_share Decimal(6, 4) COMMENT '严重比例(占承载量)' AFTER warning_share,
    ADD COLUMN IF NOT EXISTS capacity_basis String COMMENT '承载量依据: published 公布的景区承载量 / operating_setting 值班室运行设定(未公布)' AFTER critical_share,
    ADD COLUMN IF NOT EXISTS capacity_source String COMMENT '承载量出处(JSON: 媒体、标题、日期、网址、原句, 或运行设定说明)' AFTER capacity_basis;
