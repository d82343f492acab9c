"""A static briefing rendered from the dashboards' own JSON and SQL: ``yzmon report --date 2024-10-07 --pdf b.pdf``.

Each dashboard in BRIEFING is evaluated as Grafana would show it when opened at a moment: the end of the given
Beijing day, or now for today. Its default time range is taken relative to that moment (ranges shorter than a day
widen to the whole day; a panel's ``timeFrom`` is honoured), template variables at All (the holiday variable at the
day's holiday when there is one, hidden variables at their value), titles with their variables filled in, and every
panel's SQL expanded with :func:`yzmon.grafana_macros.expand`. Stat panels become the headline numbers (pace first,
its gap as a number next to 领先/落后); time series and bars become charts drawn by matplotlib with a CJK font;
the rest become tables. A missing value reads — or 无数据, never 0. The page opens with what the data covers
(library query ``coverage``), so a briefing over a partly loaded year says so. Headless Chromium turns the page into
a PNG or a PDF for mail.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

from schemas.zone import ZONE
from yzcore.store import Reader
from yzmon.freshness import describe, footfall_freshness
from yzmon.grafana_macros import ALL, expand
from yzmon.status import coverage_by_feed, uncovered_start

__all__ = [
    "BRIEFING",
    "ReportError",
    "briefing_moment",
    "coverage_summary",
    "evaluate",
    "panel_queries",
    "panel_queries_at",
    "pdf",
    "render_report",
    "screenshot",
]

BRIEFING = ["sales_targets.json", "footfall_live.json", "tourist_origins.json", "holiday_compare.json"]
PALETTE = ["#3274d9", "#ff9830", "#56a64b", "#e02f44", "#a352cc", "#8ab8ff", "#fade2a", "#37872d", "#c4162a"]
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium fonts-noto-cjk"
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans CJK JP", "Noto Sans SC", "WenQuanYi Zen Hei", "Source Han Sans SC")
MISSING = "—"
FEED_ZH = {"sales": "社零", "footfall": "客流", "tourists": "游客"}


class ReportError(RuntimeError):
    """The briefing could not be produced (missing dashboards, a failing query, no Chromium or CJK font)."""


@dataclass
class PanelResult:
    board: str
    panel: dict[str, Any]
    title: str
    columns: list[str]
    types: list[str]
    rows: list[list[Any]] = field(default_factory=list)


# --- evaluation ----------------------------------------------------------------------------------------------

_REL = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([dwMy]))?$")


def briefing_moment(day: date, now: datetime | None = None) -> datetime:
    """The moment a briefing for ``day`` shows: the end of that Beijing day, or now when ``day`` is today."""
    now = now or datetime.now(ZONE)
    end = datetime.combine(day, time(23, 59, 59, 999000), ZONE)
    return min(end, now.astimezone(ZONE)) if day == now.astimezone(ZONE).date() else end


def _relative(expr: str, now: datetime, end: bool) -> datetime:
    m = _REL.match(expr)
    if not m:
        raise ReportError(f"unsupported time expression {expr!r}")
    t = now
    if m.group(1):
        n, unit = int(m.group(1)), m.group(2)
        if unit in "smhdw":
            t -= timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}[unit]: n})
        elif unit == "M":
            months = t.year * 12 + t.month - 1 - n
            t = t.replace(year=months // 12, month=months % 12 + 1, day=min(t.day, 28))
        else:
            t = t.replace(year=t.year - n)
    if m.group(3):
        unit = m.group(3)
        start = datetime.combine(t.date(), time(), ZONE)
        if unit == "w":
            start -= timedelta(days=t.weekday())
            stop = start + timedelta(days=7)
        elif unit == "M":
            start = start.replace(day=1)
            stop = (start + timedelta(days=32)).replace(day=1)
        elif unit == "y":
            start = start.replace(month=1, day=1)
            stop = start.replace(year=start.year + 1)
        else:
            stop = start + timedelta(days=1)
        t = stop - timedelta(milliseconds=1) if end else start
    return t


def dashboard_range(board: dict[str, Any], panel: dict[str, Any] | None, at: datetime) -> tuple[datetime, datetime]:
    """The time range Grafana gives a panel of ``board`` opened at ``at``."""
    start = _relative(board["time"]["from"], at, False)
    stop = _relative(board["time"]["to"], at, True)
    if stop - start < timedelta(days=1):
        start = min(start, datetime.combine(at.date(), time(), ZONE))
    if panel and panel.get("timeFrom"):
        start = _relative(f"now-{panel['timeFrom']}", stop, False)
    return start, stop


def _interval(start: datetime, stop: datetime) -> int:
    raw = (stop - start).total_seconds() / 300
    for nice in (60, 300, 600, 900, 1800, 3600, 10800, 21600, 43200, 86400):
        if raw <= nice:
            return nice
    return 86400


def _query(reader: Reader, sql: str) -> tuple[list[str], list[str], list[list[Any]]]:
    data = json.loads(reader.raw(sql, None, "JSONCompact"), parse_float=Decimal)
    return [m["name"] for m in data["meta"]], [m["type"] for m in data["meta"]], data["data"]


def variables(reader: Reader, board: dict[str, Any], at: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """Current values and option values of the board's variables as Grafana loads them at ``at``."""
    start, stop = dashboard_range(board, None, at)
    values: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for var in board.get("templating", {}).get("list", []):
        sql = expand(var["query"]["rawSql"], time_from=start, time_to=stop, interval_s=300, variables={})
        _, _, found = _query(reader, sql)
        options[var["name"]] = [str(r[0]) for r in found]
        current = var.get("current", {}).get("value")
        if var.get("includeAll"):
            values[var["name"]] = [ALL] if var.get("multi") else ALL
        elif var["name"] == "holiday":
            day = at.date().isoformat()
            _, _, today = _query(reader, f"SELECT holiday FROM dim_calendar FINAL WHERE day = '{day}'")
            values["holiday"] = today[0][0] if today and today[0][0] else current or options["holiday"][0]
        elif current not in (None, "", []):
            values[var["name"]] = current
        else:
            values[var["name"]] = options[var["name"]][0] if options[var["name"]] else ""
    return values, options


def _title(title: str, values: dict[str, Any]) -> str:
    def fill(m: re.Match[str]) -> str:
        value = values.get(m.group(1) or m.group(2))
        return m.group(0) if value is None or isinstance(value, list) or value == ALL else str(value)

    return re.sub(r"\$\{(\w+)\}|\$(\w+)", fill, title)


def panel_queries(reader: Reader, day: date, paths: list[Path]) -> list[tuple[dict, dict, str]]:
    """(board, panel, expanded SQL) of every panel of the dashboards at ``paths``, as opened at the end of ``day``."""
    end = datetime.combine(day, time(23, 59, 59, 999000), ZONE)
    return [(board, panel, sql) for board, panel, _, sql in panel_queries_at(reader, end, paths)]


def panel_queries_at(reader: Reader, at: datetime, paths: list[Path]) -> list[tuple[dict, dict, str, str]]:
    """(board, panel, title, expanded SQL) of every panel of the dashboards at ``paths``, as opened at ``at``."""
    out = []
    for path in paths:
        if not path.exists():
            raise ReportError(f"dashboard {path} is missing")
        board = json.loads(path.read_text(encoding="utf-8"))
        values, options = variables(reader, board, at)
        for panel in board["panels"]:
            for target in panel.get("targets", [])[:1]:
                start, stop = dashboard_range(board, panel, at)
                sql = expand(
                    target["rawSql"],
                    time_from=start,
                    time_to=stop,
                    interval_s=_interval(start, stop),
                    variables=values,
                    all_values=options,
                )
                out.append((board, panel, _title(panel["title"], values), sql))
    return out


def evaluate(reader: Reader, at: datetime, dashboards_dir: Path | str) -> list[PanelResult]:
    """Every panel of the briefing dashboards, queried as opened at ``at``."""
    results = []
    for board, panel, title, sql in panel_queries_at(reader, at, [Path(dashboards_dir) / n for n in BRIEFING]):
        try:
            columns, types, found = _query(reader, sql)
        except Exception as exc:
            raise ReportError(f"{board['title']} / {title}: the query failed: {exc}") from exc
        results.append(PanelResult(board["title"], panel, title, columns, types, found))
    return results


def coverage_summary(reader: Reader, at: datetime) -> str:
    """One sentence: which days of the year of ``at`` the store covers, per feed, and what is missing."""
    year = at.year
    found = coverage_by_feed(reader, year)
    if not found:
        return f"数据覆盖:{year} 年尚无数据,各项指标显示为无数据。"
    parts = []
    for feed, name in FEED_ZH.items():
        c = found.get(feed)
        if c is None:
            parts.append(f"{name}无数据")
            continue
        parts.append(
            f"{name} {c.first:%Y-%m-%d} 至 {c.last:%Y-%m-%d}(共 {c.days} 天"
            + (f",缺 {c.gaps} 天" if c.gaps else "")
            + ")"
        )
    text = f"数据覆盖({year} 年):" + ";".join(parts) + "。"
    until = uncovered_start(found, year)
    if until is not None:
        text += (
            f"{year}-01-01 至 {until:%Y-%m-%d} 没有数据:年累计只含已覆盖的日,"
            "完成率不显示,进度只在已覆盖的完整日上评估;去年同期未覆盖时显示为 —。"
        )
    return text


def freshness_summary(reader: Reader, at: datetime) -> str:
    """One sentence: per 商圈, the footfall counters at ``at`` — occupancy with data age and counters reporting, or
    数据中断 with the last value and its time (yzmon.freshness)."""
    parts = [f"{f.name} {describe(f)}" for f in footfall_freshness(reader, at)]
    return f"客流计数点(截至 {at:%m-%d %H:%M}):" + ";".join(parts) + "。"


# --- formatting ----------------------------------------------------------------------------------------------


def _field_config(panel: dict[str, Any], column: str) -> dict[str, Any]:
    config = dict(panel.get("fieldConfig", {}).get("defaults", {}))
    for o in panel.get("fieldConfig", {}).get("overrides", []):
        if o["matcher"].get("id") == "byName" and o["matcher"].get("options") == column:
            for prop in o["properties"]:
                config[prop["id"]] = prop["value"]
    return config


def _number(v: Any) -> float | None:
    if v is None or isinstance(v, bool):
        return None
    try:
        number = float(v)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _format(value: Any, config: dict[str, Any]) -> str:
    if value is None:
        return str(config.get("noValue", MISSING))
    number = _number(value)
    if number is None or (isinstance(value, str) and not re.fullmatch(r"-?[\d.eE+-]+", value)):
        return str(value)
    unit = config.get("unit", "none")
    decimals = config.get("decimals", 2)
    text = f"{number:,.{decimals}f}"
    if unit.startswith("suffix:"):
        return f"{text} {unit[7:]}"
    signed = f"{round(number, decimals) + 0.0:+,.{decimals}f}%"  # + 0.0: no "-0.0%"
    return {"percent": signed if "偏差" in config.get("_name", "") else f"{text}%"}.get(
        unit, {"s": f"{text} 秒", "locale": f"{number:,.0f}"}.get(unit, text)
    )


_STATUS_COLORS = {"领先": "#1a7f37", "符合进度": "#1f60c4", "落后": "#c4162a"}


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


# --- charts (matplotlib) -------------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    names = {f.name for f in font_manager.fontManager.ttflist}
    family = next((n for n in CJK_FONTS if n in names), None)
    if family is None:
        raise ReportError(f"no CJK font for the charts; install one with: {CHROMIUM_INSTALL}")
    plt.rcParams.update(
        {"font.family": [family], "axes.unicode_minus": False, "figure.dpi": 100, "savefig.bbox": "tight"}
    )
    return plt


def _png(fig: Any) -> str:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return f'<img class="chart" alt="chart" src="data:image/png;base64,{base64.b64encode(buf.getvalue()).decode()}">'


def _time(value: Any) -> datetime:
    t = datetime.fromisoformat(str(value))
    return t if t.tzinfo else t.replace(tzinfo=ZONE)


def _line_chart(result: PanelResult) -> str:
    plt = _pyplot()
    from matplotlib import dates as mdates

    cols = result.columns
    series: dict[str, tuple[list[datetime], list[float | None]]] = {}
    for row in result.rows:
        t = _time(row[0]).astimezone(ZONE).replace(tzinfo=None)
        label = row[cols.index("name")] if "name" in cols else None
        for i, c in enumerate(cols[1:], 1):
            if c == "name":
                continue
            xs, ys = series.setdefault(label if label is not None else c, ([], []))
            xs.append(t)
            ys.append(_number(row[i]))
    fig, ax = plt.subplots(figsize=(13, 3.4))
    value_col = next(c for c in cols[1:] if c != "name")
    config = _field_config(result.panel, value_col)
    for n, (name, (xs, ys)) in enumerate(series.items()):
        style = "--" if name in ("年度目标", "应完成(同覆盖日)", "去年同期") else "-"
        ax.plot(xs, [float("nan") if y is None else y for y in ys], style, color=PALETTE[n % len(PALETTE)], label=name)
    unit = config.get("unit", "")
    ax.set_ylabel(unit[7:] if unit.startswith("suffix:") else ("%" if unit == "percent" else ""))
    ax.grid(True, color="#e5e5e5")
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M" if _span_days(series) <= 3 else "%Y-%m-%d"))
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    return _png(fig)


def _span_days(series: dict[str, tuple[list[datetime], list[float | None]]]) -> float:
    times = [t for xs, _ in series.values() for t in xs]
    return (max(times) - min(times)).total_seconds() / 86400 if times else 0.0


def _bar_chart(result: PanelResult) -> str:
    plt = _pyplot()
    cols = result.columns
    label_i = next((i for i, t in enumerate(result.types) if "String" in t), 0)
    bands = [c for c in ("正常", "预警", "严重", "刻度上限") if c in cols]
    value_cols = [i for i, t in enumerate(result.types) if i != label_i and "String" not in t and cols[i] not in bands]
    labels = [str(r[label_i]) for r in result.rows][::-1]
    data = result.rows[::-1]
    fig, ax = plt.subplots(figsize=(13, 0.45 * len(labels) * max(len(value_cols), 1) + 1.2))
    height = 0.8 / max(len(value_cols), 1)
    for n, i in enumerate(value_cols):
        ys = [k + (n - (len(value_cols) - 1) / 2) * height for k in range(len(labels))]
        values = [_number(r[i]) for r in data]
        colors = [
            _band_color(r, cols, v) if bands else PALETTE[n % len(PALETTE)] for r, v in zip(data, values, strict=True)
        ]
        ax.barh(ys, [v or 0 for v in values], height=height, color=colors, label=cols[i])
        config = _field_config(result.panel, cols[i])
        for y, v, r in zip(ys, values, data, strict=True):
            ax.text(v or 0, y, " " + _format(r[i], config), va="center", fontsize=9)
    ax.set_yticks(range(len(labels)), labels)
    ax.grid(True, axis="x", color="#e5e5e5")
    if len(value_cols) > 1:
        ax.legend(loc="lower right", frameon=False)
    return _png(fig)


def _band_color(row: list[Any], cols: list[str], value: float | None) -> str:
    """The colour the bar gauge gives a 商圈: its own bands (rowsToFields thresholds)."""
    if value is None:
        return "#cccccc"
    warning, critical = _number(row[cols.index("预警")]), _number(row[cols.index("严重")])
    if critical is not None and value >= critical:
        return "#c4162a"
    if warning is not None and value >= warning:
        return "#ff9830"
    return "#56a64b"


def _table(result: PanelResult) -> str:
    head = "".join(f"<th>{_esc(c)}</th>" for c in result.columns)
    body = []
    for row in result.rows:
        cells = []
        for i, (c, v) in enumerate(zip(result.columns, row, strict=True)):
            text = str(v) if "String" in result.types[i] else _format(v, _field_config(result.panel, c))
            cells.append(f"<td>{_esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _stat_cards(result: PanelResult) -> str:
    cards = []
    row = result.rows[0] if result.rows else [None] * len(result.columns)
    for column, value in zip(result.columns, row, strict=True):
        config = _field_config(result.panel, column) | {"_name": column}
        if value is None and "noValue" not in config:
            config["noValue"] = "无数据"
        shown = _esc(_format(value, config))
        if column == "进度" and value in _STATUS_COLORS:
            shown = f'<span class="status" style="background:{_STATUS_COLORS[value]}">{shown}</span>'
        label = column if len(result.columns) > 1 else result.title
        cards.append(f'<div class="card"><div class="label">{_esc(label)}</div><div class="value">{shown}</div></div>')
    return "".join(cards)


def _body(result: PanelResult) -> str:
    if not result.rows:
        return '<p class="empty">无数据</p>'
    ptype = result.panel["type"]
    fmt = result.panel["targets"][0].get("format", 1)
    numbers = [v for r in result.rows for v in r[1:] if _number(v) is not None]
    if ptype in ("timeseries", "barchart", "bargauge", "piechart") and not numbers:
        return '<p class="empty">无数据(该时段未覆盖)</p>'
    if ptype == "timeseries" and fmt == 0:
        return _line_chart(result)
    if ptype in ("barchart", "bargauge", "piechart"):
        return _bar_chart(result)
    return _table(result)


CSS = """
body { font-family: "Noto Sans CJK SC", "Noto Sans SC", "WenQuanYi Zen Hei", "Microsoft YaHei", sans-serif;
       margin: 24px 40px; color: #222; background: #fff; }
h1 { font-size: 28px; margin: 0 0 4px; } h2 { font-size: 22px; border-bottom: 2px solid #3274d9; padding-bottom: 4px;
margin-top: 32px; } h3 { font-size: 17px; margin: 18px 0 4px; }
.meta, .desc { color: #666; font-size: 13px; margin: 2px 0 8px; }
.coverage { border-left: 4px solid #ff9830; background: #fff8ee; padding: 8px 12px; font-size: 14px; }
.headline { display: flex; flex-wrap: wrap; gap: 12px; }
.headline section { border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; background: #f7f9fc; }
.cards { display: flex; flex-wrap: wrap; gap: 18px; }
.card .label { font-size: 13px; color: #555; } .card .value { font-size: 22px; font-weight: 600; }
.status { color: #fff; border-radius: 4px; padding: 0 8px; }
img.chart { max-width: 100%; }
table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #eef2f8; } td { text-align: right; } td:first-child { text-align: left; }
@media print { section { break-inside: avoid; } }
"""


def render_report(reader: Reader, day: date, dashboards_dir: Path | str, now: datetime | None = None) -> str:
    """The briefing for ``day`` (as of the end of that day, or now for today) as one self-contained HTML page."""
    at = briefing_moment(day, now)
    results = evaluate(reader, at, dashboards_dir)
    stats = [r for r in results if r.panel["type"] == "stat"]
    stats.sort(key=lambda r: 0 if "进度" in r.title else 1)  # pace first
    moment = f"{at:%Y-%m-%d %H:%M}" if at.time() < time(23, 59) else f"{day.isoformat()} 24:00"
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>渝中商圈每日简报 {day.isoformat()}</title><style>{CSS}</style></head><body>",
        f"<h1>渝中商圈每日简报 · {day.year}年{day.month}月{day.day}日</h1>",
        f'<p class="meta">数据截至 {moment}(北京时间);面板与 SQL 与 Grafana 看板一致'
        f"(筛选:全部商圈、全部行业)。生成时间 {datetime.now(ZONE):%Y-%m-%d %H:%M}。</p>",
        f'<p class="coverage" id="coverage">{_esc(coverage_summary(reader, at))}</p>',
        f'<p class="coverage" id="footfall-freshness">{_esc(freshness_summary(reader, at))}</p>',
        "<h2>核心指标</h2>",
        '<div class="headline">',
    ]
    for r in stats:
        out.append(
            f'<section class="panel stat" data-panel="{_esc(r.title)}" data-rows="{len(r.rows)}">'
            f'<h3>{_esc(r.title)}</h3><div class="cards">{_stat_cards(r)}</div></section>'
        )
    out.append("</div>")
    board = None
    for r in results:
        if r.panel["type"] == "stat":
            continue
        if r.board != board:
            board = r.board
            out.append(f"<h2>{_esc(board)}</h2>")
        out.append(
            f'<section class="panel {r.panel["type"]}" data-panel="{_esc(r.title)}" '
            f'data-rows="{len(r.rows)}"><h3>{_esc(r.title)}</h3>'
            f'<p class="desc">{_esc(r.panel.get("description", ""))}</p>{_body(r)}</section>'
        )
    out.append("</body></html>")
    return "\n".join(out)


# --- Chromium: PNG and PDF -----------------------------------------------------------------------------------


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _chromium(html_path: Path, args: list[str], out: Path, chromium: str | None) -> None:
    binary = chromium or chromium_path()
    if binary is None:
        raise ReportError(f"Chromium is needed for PNG and PDF output; install it with: {CHROMIUM_INSTALL}")
    with tempfile.TemporaryDirectory(prefix="yzmon-chromium-") as profile:
        cmd = [
            binary,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            *args,
            Path(html_path).resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"Chromium failed: {exc}") from exc
    if proc.returncode != 0 or not Path(out).exists():
        raise ReportError(f"Chromium failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")


def screenshot(
    html_path: Path, png_path: Path, width: int = 1400, height: int = 3000, chromium: str | None = None
) -> None:
    """A PNG of the page through headless Chromium."""
    args = [f"--screenshot={Path(png_path).resolve()}", f"--window-size={width},{height}"]
    _chromium(html_path, args, Path(png_path), chromium)


def pdf(html_path: Path, pdf_path: Path, chromium: str | None = None) -> None:
    """A PDF of the page (A4, no browser header or footer) through headless Chromium, for mail."""
    args = [f"--print-to-pdf={Path(pdf_path).resolve()}", "--no-pdf-header-footer"]
    _chromium(html_path, args, Path(pdf_path), chromium)
