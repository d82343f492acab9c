"""The 推算社零 as a committee reads it, in one wording for `yzmon nowcast`, `yzmon status`, the live view and
the briefing: the estimate with its interval, its growth against the growth target, and the official release
it builds on. The figures come from the library query ``nowcast`` (sql/queries/nowcast.sql) alone."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from yzcore.queries import get
from yzcore.store import Reader, rows

PERIOD_ZH = {3: "1—3月", 6: "1—6月", 9: "1—9月", 12: "全年"}
METHOD_ZH = {"sample": "同口径样本", "carry": "样本不足, 按最近官方增速"}
YI = Decimal(10**8)


def nowcast_rows(reader: Reader, as_of: date) -> list[dict]:
    """This quarter's cumulative period and the year, as of ``as_of`` (data up to it, releases published by it)."""
    return rows(reader, get("nowcast").sql, {"as_of": as_of})


def _yi(x: object) -> str:
    return f"{Decimal(str(x)) / YI:,.1f}"


def _pct(x: object) -> str:
    return "—" if x is None else f"{float(x):+.1f}%"


def describe_estimate(r: dict) -> str:
    """'2026年1—12月 推算社零 1,578.2 亿元(区间 1,570.0—1,586.4) · 同比 +5.2%(目标 +5.0%) · …'"""
    text = (
        f"{r['year']}年{PERIOD_ZH[int(r['end_month'])]} 推算社零 {_yi(r['estimate'])} 亿元"
        f"(区间 {_yi(r['low'])}—{_yi(r['high'])}) · 同比 {_pct(r['growth_pct'])}"
    )
    if r.get("target_growth_pct") is not None:
        text += f"(增速目标 {_pct(r['target_growth_pct'])}, 差 {_pct(r['growth_gap_pct'])})"
    if r.get("target") is not None:
        text += f" · 规模目标 {_yi(r['target'])} 亿元, 推算差 {_pct(r['target_gap_pct'])}"
    if r["method"] == "sample":
        text += f" · 同口径样本增速 {_pct(r['sample_growth_pct'])}({int(r['merchants'])} 家商户)"
    else:
        text += f" · {METHOD_ZH['carry']}"
    return text


def describe_release(r: dict) -> str:
    """The official release the estimate builds on: '官方 2026年1—9月 1,170.3 亿元 +5.1%(… 发布, 口径 …)'."""
    if r.get("release_year") in (None, 0) or r.get("release_level") is None:
        return "尚无官方发布"
    return (
        f"官方 {r['release_year']}年{PERIOD_ZH[int(r['release_end_month'])]} {_yi(r['release_level'])} 亿元 "
        f"{_pct(r['release_growth_pct'])}({r['release_published']} 发布, 口径 {r['basis']})"
    )


def nowcast_lines(reader: Reader, as_of: date) -> list[tuple[str, str]]:
    """(label, text) lines: the quarter's and the year's estimates, then the last official release."""
    found = nowcast_rows(reader, as_of)
    if not found:
        return [("推算社零", "暂无: 没有官方发布可作基数(`yzmon official import`)")]
    if len(found) == 2 and found[0]["end_month"] == found[1]["end_month"]:  # in the fourth quarter: one period
        found = [r for r in found if r["period"] == "year"]
    out = [(f"推算社零({'本季累计' if r['period'] == 'quarter' else '全年'})", describe_estimate(r)) for r in found]
    out.append(("最近官方发布", describe_release(found[0])))
    return out


def visits_lines(reader: Reader, as_of: date, scope: str = "jiefangbei") -> list[tuple[str, str]]:
    """(label, text) of the year's 推算客流 of an area (library query visits_nowcast); none without a base."""
    found = [
        r for r in rows(reader, get("visits_nowcast").sql, {"as_of": as_of, "scope": scope}) if r["period"] == "year"
    ]
    out = []
    for r in found:
        wan = Decimal(10**4)
        text = (
            f"{r['year']}年全年 推算客流 {Decimal(str(r['estimate'])) / wan:,.0f} 万人次"
            f"(区间 {Decimal(str(r['low'])) / wan:,.0f}—{Decimal(str(r['high'])) / wan:,.0f})"
            f" · 同比 {_pct(r['growth_pct'])}"
            + (f" · 同口径计数器 {int(r['gates'])} 个" if r["method"] == "sample" else f" · {METHOD_ZH['carry']}")
            + f" · 依据官方 {r['release_year']}年{PERIOD_ZH[int(r['release_end_month'])]}"
            f" {Decimal(str(r['release_level'])) / wan:,.0f} 万人次({r['release_published']} 发布)"
        )
        out.append(("推算解放碑客流(全年)" if scope == "jiefangbei" else f"推算客流 {scope}(全年)", text))
    return out
