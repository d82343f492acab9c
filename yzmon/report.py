"""A static daily briefing rendered from the dashboards' own JSON and SQL: ``yzmon report --date 2024-10-07``.

Each dashboard in BRIEFING is evaluated as Grafana would show it when opened at the end of the given Beijing day:
its default time range relative to that moment (ranges shorter than a day widen to the whole day; a panel's
``timeFrom`` is honoured), template variables at All (the holiday variable at the day's holiday when there is
one), and every panel's SQL expanded with :func:`yzmon.grafana_macros.expand`. Stat panels become the headline
numbers (pace status first); the others become inline SVG charts or tables. No JavaScript, no downloads.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from schemas.zone import ZONE
from yzcore.store import Reader
from yzmon.grafana_macros import ALL, expand

__all__ = ["BRIEFING", "ReportError", "evaluate", "render_report", "screenshot"]

BRIEFING = ["sales_targets.json", "footfall_live.json", "tourist_origins.json", "holiday_compare.json"]
PALETTE = ["#3274d9", "#ff9830", "#56a64b", "#e02f44", "#a352cc", "#8ab8ff", "#fade2a", "#37872d", "#c4162a"]
CHROMIUM_INSTALL = "apt-get update && apt-get install -y chromium fonts-noto-cjk"


class ReportError(RuntimeError):
    """The briefing could not be produced (missing dashboards, a failing query, no Chromium)."""


@dataclass
class PanelResult:
    board: str
    panel: dict[str, Any]
    columns: list[str]
    types: list[str]
    rows: list[list[Any]] = field(default_factory=list)


# --- evaluation ----------------------------------------------------------------------------------------------

_REL = re.compile(r"^now(?:-(\d+)([smhdwMy]))?(?:/([dwMy]))?$")


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


def _range(board: dict[str, Any], panel: dict[str, Any], day: date) -> tuple[datetime, datetime]:
    now = datetime.combine(day, time(23, 59, 59, 999000), ZONE)
    start = _relative(board["time"]["from"], now, False)
    stop = _relative(board["time"]["to"], now, True)
    if stop - start < timedelta(days=1):
        start = min(start, datetime.combine(day, time(), ZONE))
    if panel.get("timeFrom"):
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


def _variables(reader: Reader, board: dict[str, Any], day: date) -> tuple[dict[str, Any], dict[str, Any]]:
    values: dict[str, Any] = {}
    options: dict[str, Any] = {}
    for var in board.get("templating", {}).get("list", []):
        _, _, rows = _query(reader, var["query"]["rawSql"])
        options[var["name"]] = [str(r[0]) for r in rows]
        if var.get("includeAll"):
            values[var["name"]] = [ALL] if var.get("multi") else ALL
        elif var["name"] == "holiday":
            _, _, today = _query(reader, f"SELECT holiday FROM dim_calendar FINAL WHERE day = '{day.isoformat()}'")
            current = var.get("current", {}).get("value")
            values["holiday"] = today[0][0] if today and today[0][0] else current or options["holiday"][0]
        else:
            current = var.get("current", {}).get("value")
            values[var["name"]] = current if current not in (None, "", []) else options[var["name"]][0]
    return values, options


def panel_queries(reader: Reader, day: date, paths: list[Path]) -> list[tuple[dict, dict, str]]:
    """(board, panel, expanded SQL) of every panel of the dashboards at ``paths``, as opened at the end of ``day``
    with every variable at All (the holiday variable at the day's holiday)."""
    out = []
    for path in paths:
        if not path.exists():
            raise ReportError(f"dashboard {path} is missing")
        board = json.loads(path.read_text(encoding="utf-8"))
        variables, options = _variables(reader, board, day)
        for panel in board["panels"]:
            for target in panel.get("targets", [])[:1]:
                start, stop = _range(board, panel, day)
                out.append(
                    (
                        board,
                        panel,
                        expand(
                            target["rawSql"],
                            time_from=start,
                            time_to=stop,
                            interval_s=_interval(start, stop),
                            variables=variables,
                            all_values=options,
                        ),
                    )
                )
    return out


def evaluate(reader: Reader, day: date, dashboards_dir: Path | str) -> list[PanelResult]:
    """Every panel of the briefing dashboards, queried for ``day``."""
    results = []
    for board, panel, sql in panel_queries(reader, day, [Path(dashboards_dir) / name for name in BRIEFING]):
        try:
            columns, types, rows = _query(reader, sql)
        except Exception as exc:
            raise ReportError(f"{board['title']} / {panel['title']}: the query failed: {exc}") from exc
        results.append(PanelResult(board["title"], panel, columns, types, rows))
    return results


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
        return float(v)
    except (TypeError, ValueError):
        return None


def _format(value: Any, config: dict[str, Any]) -> str:
    number = _number(value)
    if number is None or (isinstance(value, str) and not re.fullmatch(r"-?[\d.eE+-]+", value)):
        return "—" if value is None else str(value)
    if number != number:  # NaN
        return "—"
    unit = config.get("unit", "none")
    decimals = config.get("decimals", 2)
    text = f"{number:,.{decimals}f}"
    if unit.startswith("suffix:"):
        return f"{text} {unit[7:]}"
    return {"percent": f"{text}%", "s": f"{text} 秒", "locale": f"{number:,.0f}"}.get(unit, text)


def _mapped(value: Any, config: dict[str, Any]) -> tuple[str, str] | None:
    number = _number(value)
    for mapping in config.get("mappings", []):
        opts = mapping.get("options", {})
        if mapping.get("type") == "range" and number is not None:
            lo, hi = opts.get("from"), opts.get("to")
            if (lo is None or number >= lo) and (hi is None or number <= hi):
                return opts["result"].get("text", ""), opts["result"].get("color", "")
    return None


_COLORS = {"green": "#1a7f37", "red": "#c4162a", "blue": "#1f60c4", "orange": "#e0752d"}


def _esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


# --- rendering -----------------------------------------------------------------------------------------------


def _stat_cards(result: PanelResult) -> str:
    cards = []
    row = result.rows[0] if result.rows else [None] * len(result.columns)
    for column, value in zip(result.columns, row, strict=True):
        config = _field_config(result.panel, column)
        shown = _format(value, config)
        mapped = _mapped(value, config)
        if mapped:
            color = _COLORS.get(mapped[1], mapped[1] or "#333")
            shown = f'<span class="status" style="background:{color}">{_esc(mapped[0])}</span> {_esc(shown)}'
        else:
            shown = _esc(shown)
        label = column if len(result.columns) > 1 else result.panel["title"]
        cards.append(f'<div class="card"><div class="label">{_esc(label)}</div><div class="value">{shown}</div></div>')
    return "".join(cards)


def _parse_time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


def _series(result: PanelResult) -> tuple[list[datetime], dict[str, dict[datetime, float]]]:
    cols = result.columns
    series: dict[str, dict[datetime, float]] = {}
    times: list[datetime] = []
    for row in result.rows:
        t = _parse_time(row[0])
        if t not in times:
            times.append(t)
        label = row[cols.index("name")] if "name" in cols else None
        for i, c in enumerate(cols[1:], 1):
            if c == "name":
                continue
            v = _number(row[i])
            if v is not None:
                series.setdefault(label if label is not None else c, {})[t] = v
    return sorted(times), series


def _line_chart(result: PanelResult) -> str:
    times, series = _series(result)
    width, height, left, bottom, top = 1300, 300, 80, 40, 10
    values = [v for s in series.values() for v in s.values()] or [0.0]
    lo, hi = min(0.0, min(values)), max(values) or 1.0
    t0, t1 = times[0], times[-1]
    span = (t1 - t0).total_seconds() or 1.0
    plot_w, plot_h = width - left - 220, height - bottom - top

    def xy(t: datetime, v: float) -> str:
        x = left + plot_w * (t - t0).total_seconds() / span
        y = top + plot_h * (1 - (v - lo) / ((hi - lo) or 1))
        return f"{x:.1f},{y:.1f}"

    value_col = next(c for c in result.columns[1:] if c != "name")
    config = _field_config(result.panel, value_col)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">',
        f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="#fafafa" stroke="#ddd"/>',
    ]
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        y = top + plot_h * (1 - k / 4)
        parts.append(
            f'<line x1="{left}" x2="{left + plot_w}" y1="{y:.1f}" y2="{y:.1f}" stroke="#e5e5e5"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{_esc(_format(v, config))}</text>"
        )
    for k in range(6):
        t = t0 + timedelta(seconds=span * k / 5)
        x = left + plot_w * k / 5
        label = t.strftime("%m-%d %H:%M") if span <= 3 * 86400 else t.strftime("%Y-%m-%d")
        parts.append(f'<text x="{x:.1f}" y="{height - 15}" text-anchor="middle" class="axis">{label}</text>')
    for n, (name, points) in enumerate(series.items()):
        color = PALETTE[n % len(PALETTE)]
        coords = " ".join(xy(t, points[t]) for t in times if t in points)
        if len(points) == 1:
            parts.append(f'<circle cx="{coords.split(",")[0]}" cy="{coords.split(",")[1]}" r="4" fill="{color}"/>')
        else:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{coords}"/>')
        y = top + 14 + 18 * n
        last = points[max(points)]
        parts.append(
            f'<rect x="{left + plot_w + 15}" y="{y - 9}" width="12" height="12" fill="{color}"/>'
            f'<text x="{left + plot_w + 32}" y="{y + 2}" class="legend">{_esc(name)} '
            f"{_esc(_format(last, config))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _bar_chart(result: PanelResult) -> str:
    cols = result.columns
    label_i = next((i for i, t in enumerate(result.types) if "String" in t), 0)
    value_cols = [i for i, t in enumerate(result.types) if i != label_i and "String" not in t]
    width, left, bar_h, gap = 1300, 170, 16, 10
    values = [_number(r[i]) or 0.0 for r in result.rows for i in value_cols] or [0.0]
    hi = max(max(values), 0.0) or 1.0
    plot_w = width - left - 260
    height = 20 + len(result.rows) * (len(value_cols) * bar_h + gap) + 18 * len(value_cols)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" class="chart">']
    y = 10
    for row in result.rows:
        parts.append(
            f'<text x="{left - 8}" y="{y + bar_h * len(value_cols) / 2 + 5}" text-anchor="end" '
            f'class="legend">{_esc(row[label_i])}</text>'
        )
        for n, i in enumerate(value_cols):
            v = _number(row[i]) or 0.0
            w = max(plot_w * max(v, 0.0) / hi, 1)
            color = PALETTE[n % len(PALETTE)]
            parts.append(
                f'<rect x="{left}" y="{y}" width="{w:.1f}" height="{bar_h - 2}" fill="{color}"/>'
                f'<text x="{left + w + 6:.1f}" y="{y + bar_h - 4}" class="axis">'
                f"{_esc(_format(row[i], _field_config(result.panel, cols[i])))}</text>"
            )
            y += bar_h
        y += gap
    for n, i in enumerate(value_cols):
        parts.append(
            f'<rect x="{left}" y="{y + 18 * n}" width="12" height="12" fill="{PALETTE[n % len(PALETTE)]}"/>'
            f'<text x="{left + 18}" y="{y + 18 * n + 11}" class="legend">{_esc(cols[i])}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(result: PanelResult) -> str:
    defaults = result.panel.get("fieldConfig", {}).get("defaults", {})
    heat = defaults.get("custom", {}).get("cellOptions", {}).get("type") == "color-background"
    numbers = [v for r in result.rows for v in (_number(x) for x in r[1:]) if v is not None] if heat else []
    hi = max(numbers) if numbers else 1.0
    head = "".join(f"<th>{_esc(c)}</th>" for c in result.columns)
    body = []
    for row in result.rows:
        cells = []
        for i, (c, v) in enumerate(zip(result.columns, row, strict=True)):
            style = ""
            number = _number(v)
            if heat and i > 0 and number is not None:
                ratio = min(max(number / hi, 0.0), 1.0) if hi else 0.0
                style = f' style="background:hsl({120 - 120 * ratio:.0f},70%,{85 - 25 * ratio:.0f}%)"'
            text = _format(v, _field_config(result.panel, c)) if "String" not in result.types[i] else str(v)
            cells.append(f"<td{style}>{_esc(text)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _body(result: PanelResult) -> str:
    if not result.rows:
        return '<p class="empty">无数据</p>'
    ptype = result.panel["type"]
    fmt = result.panel["targets"][0].get("format", 1)
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
.headline { display: flex; flex-wrap: wrap; gap: 12px; }
.headline section { border: 1px solid #ddd; border-radius: 8px; padding: 10px 14px; background: #f7f9fc; }
.cards { display: flex; flex-wrap: wrap; gap: 18px; }
.card .label { font-size: 13px; color: #555; } .card .value { font-size: 24px; font-weight: 600; }
.status { color: #fff; border-radius: 4px; padding: 0 8px; font-size: 22px; }
.axis { font-size: 11px; fill: #555; } .legend { font-size: 13px; fill: #222; }
table { border-collapse: collapse; font-size: 13px; } th, td { border: 1px solid #ddd; padding: 3px 8px; }
th { background: #eef2f8; } td { text-align: right; } td:first-child { text-align: left; }
"""


def render_report(reader: Reader, day: date, dashboards_dir: Path | str) -> str:
    """The briefing for ``day`` as one self-contained HTML page."""
    results = evaluate(reader, day, dashboards_dir)
    stats = [r for r in results if r.panel["type"] == "stat"]
    # pace status first: the panels whose fields carry the 领先/符合进度/落后 mapping
    stats.sort(key=lambda r: 0 if "进度状态" in r.panel["title"] else 1)
    out = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f"<title>渝中商圈每日简报 {day.isoformat()}</title><style>{CSS}</style></head><body>",
        f"<h1>渝中商圈每日简报 · {day.year}年{day.month}月{day.day}日</h1>",
        f'<p class="meta">数据截至 {day.isoformat()} 24:00(北京时间);面板与 SQL 与 Grafana 看板一致'
        f"(筛选:全部商圈、全部行业)。生成时间 {datetime.now(ZONE):%Y-%m-%d %H:%M}。</p>",
        "<h2>核心指标</h2>",
        '<div class="headline">',
    ]
    for r in stats:
        out.append(
            f'<section class="panel stat" data-panel="{_esc(r.panel["title"])}" data-rows="{len(r.rows)}">'
            f'<h3>{_esc(r.panel["title"])}</h3><div class="cards">{_stat_cards(r)}</div></section>'
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
            f'<section class="panel {r.panel["type"]}" data-panel="{_esc(r.panel["title"])}" '
            f'data-rows="{len(r.rows)}"><h3>{_esc(r.panel["title"])}</h3>'
            f'<p class="desc">{_esc(r.panel.get("description", ""))}</p>{_body(r)}</section>'
        )
    out.append("</body></html>")
    return "\n".join(out)


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def screenshot(
    html_path: Path, png_path: Path, width: int = 1400, height: int = 3000, chromium: str | None = None
) -> None:
    """A PNG of the page through headless Chromium."""
    binary = chromium or chromium_path()
    if binary is None:
        raise ReportError(f"Chromium is needed for --png; install it with: {CHROMIUM_INSTALL}")
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
            f"--screenshot={Path(png_path).resolve()}",
            f"--window-size={width},{height}",
            Path(html_path).resolve().as_uri(),
        ]
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ReportError(f"Chromium failed: {exc}") from exc
    if proc.returncode != 0 or not Path(png_path).exists():
        raise ReportError(f"Chromium failed ({proc.returncode}): {proc.stderr.strip()[-800:]}")
