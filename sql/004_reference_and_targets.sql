-- Reference dimensions, synced from schemas/reference/districts.json by `yzmon db migrate`,
-- and the published targets (seeded from schemas/reference/targets.json by `yzmon db migrate`).
CREATE TABLE IF NOT EXISTS dim_district
(
    district String COMMENT '商圈ID',
    name_zh  String COMMENT '商圈名称',
    area     String COMMENT '所属片区ID',
    area_zh  String COMMENT '所属片区',
    kind     String COMMENT '类型'
)
ENGINE = ReplacingMergeTree ORDER BY district;

CREATE TABLE IF NOT EXISTS dim_sector
(
    sector  String COMMENT '行业ID',
    name_zh String COMMENT '行业名称'
)
ENGINE = ReplacingMergeTree ORDER BY sector;

CREATE TABLE IF NOT EXISTS dim_origin
(
    origin  String COMMENT '客源地ID',
    name_zh String COMMENT '客源地'
)
ENGINE = ReplacingMergeTree ORDER BY origin;

-- Targets are versioned: an import never overwrites, it adds version n+1 (see v_targets).
CREATE TABLE IF NOT EXISTS targets
(
    year      UInt16 COMMENT '年份',
    scope     String COMMENT '范围: district 渝中区, 片区ID(如 jiefangbei) 或 商圈ID',
    metric    String COMMENT '指标: retail_sales 社零 / visits 客流 / tourists 接待游客 / tourist_spend 游客花费 / first_stores 首店首牌',
    value     Decimal(20, 2) COMMENT '目标值(基本单位: 元、人次、家)',
    unit      String COMMENT '单位',
    source    String COMMENT '出处(文件与原句)',
    version   UInt32 COMMENT '版本, 从1开始',
    loaded_at DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '导入时间'
)
ENGINE = MergeTree ORDER BY (year, scope, metric, version);
