"""`yzmon report`: the briefing rendered from the dashboards' JSON and SQL for a loaded day, opened in headless
Chromium and screenshotted; every panel must have rendered with data."""

from __future__ import annotations

import base64
import re
import struct
import zlib
from datetime import date
from pathlib import Path

import pytest
from support import loaded_dsn

from yzcore.store import DirectReader, connect
from yzmon.report import BRIEFING, CHROMIUM_INSTALL, chromium_path, render_report, screenshot

pytestmark = pytest.mark.slow  # many seconds: handed out early in a parallel run

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
DAY = date(2024, 10, 7)


def _png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered scanlines of an 8-bit RGB/RGBA PNG (stdlib only)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, width = 8, b"", 0
    height = bpp = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunk = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, color = struct.unpack(">IIBB", chunk[:10])
            assert depth == 8 and color in (2, 6), (depth, color)
            bpp = 3 if color == 2 else 4
        elif kind == b"IDAT":
            idat += chunk
        pos += 12 + length
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev = [], bytearray(stride)
    for y in range(height):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1 : (y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r[i : i + 3]) for r in rows[::4] for i in range(0, len(r), bpp * 4)]


@pytest.fixture(scope="module")
def briefing(chdb_dir: Path) -> str:
    reader = DirectReader(connect(loaded_dsn(chdb_dir)))
    return render_report(reader, DAY, DASHBOARDS)


def test_every_panel_is_in_the_briefing_with_data(briefing: str):
    import json

    sections = re.findall(r'<section class="panel [^"]*" data-panel="([^"]*)" data-rows="(\d+)"', briefing)
    titles = [p["title"] for name in BRIEFING for p in json.loads((DASHBOARDS / name).read_text())["panels"]]
    titles = [t.replace("${jfb_visits_target}", "20000万人次") for t in titles]  # 2024 target, from the targets
    assert sorted(t for t, _ in sections) == sorted(titles)
    empty = [t for t, n in sections if int(n) == 0]
    assert not empty, f"panels without data: {empty}"
    assert "$" not in "".join(t for t, _ in sections), "every title variable is filled in"


def test_headline_numbers_come_first_with_the_pace_status(briefing: str):
    first = re.search(r'<section class="panel ([^"]*)" data-panel="([^"]*)"', briefing)
    assert first.groups() == ("stat", "社零进度状态(渝中区)")
    # three of seven 商圈 loaded: no day is fully covered, so the pace is not judged (it used to read 落后 −90%)
    assert re.search(r'<div class="label">进度</div><div class="value">暂不评估</div>', briefing)
    assert "落后" not in briefing.split("<h2>社零目标追踪")[0]
    assert briefing.index("核心指标") < briefing.index('<img class="chart"') and "<svg" not in briefing
    assert "亿元" in briefing and "万人次" in briefing and "<script" not in briefing and "http://" not in briefing
    charts = re.findall(r'<img class="chart" alt="chart" src="data:image/png;base64,([^"]+)"', briefing)
    assert len(charts) >= 8 and all(base64.b64decode(c)[:8] == b"\x89PNG\r\n\x1a\n" for c in charts)  # matplotlib


def test_the_briefing_renders_in_headless_chromium(briefing: str, tmp_path: Path):
    if chromium_path() is None:
        pytest.fail(f"headless Chromium is required for the briefing screenshot; install it with: {CHROMIUM_INSTALL}")
    html, png = tmp_path / "briefing.html", tmp_path / "briefing.png"
    html.write_text(briefing, encoding="utf-8")
    screenshot(html, png)
    assert png.stat().st_size > 50_000
    width, height, pixels = _png_pixels(png)
    assert (width, height) == (1400, 3000)
    colours = set(pixels)
    assert len(colours) > 50, f"only {len(colours)} colours: blank page?"
    non_white = sum(1 for p in pixels if p != b"\xff\xff\xff") / len(pixels)
    assert non_white > 0.05, f"{non_white:.1%} of the page is not white"


def test_the_cli_command_writes_html_and_png(chdb_dir: Path, tmp_path: Path, monkeypatch):
    import typer
    from typer.testing import CliRunner

    from yzmon import dashboards_cli

    dsn = loaded_dsn(chdb_dir)
    monkeypatch.setattr("yzcore.store.query_reader", lambda settings: DirectReader(connect(dsn)))
    app = typer.Typer()
    app.command("report")(dashboards_cli.report)
    app.command("noop")(lambda: None)
    out, png = tmp_path / "b.html", tmp_path / "b.png"
    result = CliRunner().invoke(app, ["report", "--date", "2024-10-07", "--out", str(out), "--png", str(png)])
    assert result.exit_code == 0, result.output
    assert "data-rows" in out.read_text(encoding="utf-8") and png.stat().st_size > 50_000  # --pdf: test_coverage
    bad = CliRunner().invoke(app, ["report", "--date", "7.10.2024", "--out", str(out)])
    assert bad.exit_code == 1 and "YYYY-MM-DD" in bad.output
