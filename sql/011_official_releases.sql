-- Official releases (官方): published figures as reference data, versioned like targets. A period is
-- cumulative from January to end_month (3: 1—3月, 6: 1—6月, 9: 1—9月, 12: the year). basis names the
-- 口径 (who counts what): a new basis is a new series, and levels are compared only within one basis.
-- Written only by yzcore.official.import_releases (seeds from `yzmon db migrate`, `yzmon official import`,
-- simulated releases of `yzmon run`).
CREATE TABLE IF NOT EXISTS official_releases
(
    metric     String COMMENT '指标: retail_sales 社零 / visits 客流 / tourists 接待游客 / tourist_spend 游客花费',
    scope      String COMMENT '范围: district 渝中区 或 片区/商圈ID(如 jiefangbei)',
    year       UInt16 COMMENT '年份',
    end_month  UInt8 COMMENT '累计期末月: 3 即1—3月, 6 即1—6月, 9 即1—9月, 12 即全年',
    sector     String COMMENT '行业(空为合计): wholesale 批发 / retail 零售 / catering 餐饮 / lodging 住宿',
    basis      String COMMENT '口径ID: 口径变化记为新口径, 不同口径的水平值不相比',
    level      Nullable(Decimal(20, 2)) COMMENT '累计值(基本单位: 元、人次), 未公布为空',
    growth_pct Nullable(Decimal(9, 2)) COMMENT '同比增速(%, 同口径), 未公布为空',
    unit       String COMMENT '单位',
    published  Date COMMENT '发布日期',
    source     String COMMENT '出处(文件与原句)',
    version    UInt32 COMMENT '版本, 从1开始',
    loaded_at  DateTime64(3, 'Asia/Shanghai') DEFAULT now64(3) COMMENT '导入时间'
)
ENGINE = MergeTree ORDER BY (metric, scope, year, end_month, sector, basis, version);

CREATE VIEW IF NOT EXISTS v_official AS
SELECT metric, scope, year, end_month, sector, basis,
       argMax(level, version) AS level, argMax(growth_pct, version) AS growth_pct, argMax(unit, version) AS unit,
       argMax(published, version) AS published, argMax(source, version) AS source, max(version) AS latest_version
FROM official_releases GROUP BY metric, scope, year, end_month, sector, basis;

-- What each feed source covers (reference data from schemas/reference/sources.json, replaced whole by
-- `yzmon db migrate`): a card acquirer sees some sectors and channels of some merchants, counters some gates.
CREATE TABLE IF NOT EXISTS dim_source
(
    source   String COMMENT '数据源(事件的 source 字段, 前缀匹配)',
    feed     String COMMENT '数据流: sales / footfall / tourists',
    kind     String COMMENT 'census 全量 / sample 样本',
    sectors  Array(String) COMMENT '覆盖行业(空为全部)',
    channels Array(String) COMMENT '覆盖渠道(空为全部)',
    note     String COMMENT '说明'
)
ENGINE = ReplacingMergeTree ORDER BY source;
