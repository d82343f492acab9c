-- The official calendar in dim_calendar (国务院办公厅 notices, via schemas/calendar.py): the seven
-- statutory holidays with their windows as published, 调休 working days, the days before and after a
-- window, and the year a holiday belongs to (元旦 2024 starts on 2023-12-30). Rows are refilled by
-- `yzmon db migrate`. Holidays of different lengths compare by holiday_day and by per-day averages.
ALTER TABLE dim_calendar
    ADD COLUMN IF NOT EXISTS holiday_year UInt16 COMMENT '节假日所属年份(元旦假期可始于上年12月)' AFTER holiday_day,
    ADD COLUMN IF NOT EXISTS holiday_len UInt8 COMMENT '该节假日放假天数(国务院办公厅通知)' AFTER holiday_year,
    ADD COLUMN IF NOT EXISTS is_workday UInt8 COMMENT '是否工作日(含调休上班的周末)' AFTER holiday_len,
    ADD COLUMN IF NOT EXISTS is_makeup_workday UInt8 COMMENT '是否调休上班日(周六或周日上班)' AFTER is_workday,
    ADD COLUMN IF NOT EXISTS day_kind String COMMENT '日类型: holiday 假日 / eve 节前最后工作日 / return 节后第一个工作日 / makeup_workday 调休上班 / weekend 周末 / workday 工作日' AFTER is_makeup_workday,
    ADD COLUMN IF NOT EXISTS event String COMMENT '事件: chuxi 除夕 / new_years_eve 跨年夜(12月31日)' AFTER day_kind,
    COMMENT COLUMN holiday '节假日(国务院办公厅通知的放假窗口): new_years_day 元旦 / spring_festival 春节 / qingming 清明节 / labour_day 劳动节 / dragon_boat 端午节 / mid_autumn 中秋节 / national_day 国庆节(中秋国庆合并放假计为国庆)',
    COMMENT COLUMN holiday_day '节假日第几天(放假第一天=1,用于跨年对齐)',
    COMMENT COLUMN model_sales_share '参考季节曲线: 截至当日社零占全年比例(日历+schemas/seasonal.py)',
    COMMENT COLUMN model_visits_share '参考季节曲线: 截至当日客流占全年比例(日历+schemas/seasonal.py)';

-- Occupancy: the door counters re-zero at 06:00, the quietest hour, and people inside at midnight stay
-- inside: occupancy is entries minus exits since the latest 06:00 (the business day, whose night hours
-- belong to the evening before). Daily and monthly peaks are the highest minute of the calendar day/month.
ALTER TABLE footfall_agg_1m COMMENT COLUMN occupancy '在场人数(自最近一个06:00起累计进入-离开，06:00为最冷清时刻，计数归零)';
ALTER TABLE footfall_hourly COMMENT COLUMN peak_occupancy '小时内最高在场人数(在场人数自06:00起累计)';
ALTER TABLE footfall_daily COMMENT COLUMN peak_occupancy '当日(0–24时)最高在场人数(在场人数自06:00起累计)';
ALTER TABLE footfall_monthly COMMENT COLUMN peak_occupancy '当月最高在场人数(在场人数自06:00起累计)';
