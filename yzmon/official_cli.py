"""``yzmon official import FILE [--replace]`` and ``yzmon official list``: the published figures (官方).

Registered in yzmon/cli.py with ``app.add_typer(official_app, name="official")``.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

import typer
from rich.console import Console

from yzcore.official import Release
from yzcore.settings import Settings

__all__ = ["official_app"]

official_app = typer.Typer(help="Official releases: published 社零, visits and tourists.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


@official_app.callback()
def _official() -> None:
    """Official releases: published 社零, visits and tourists."""


@official_app.command("import")
def official_import(
    file: Path = typer.Argument(
        ...,
        exists=True,
        dir_okay=False,
        help="CSV or YAML: metric, scope, year, period (1—3月 1—6月 1—9月 全年), sector, basis, level, growth_pct,"
        " unit (亿元, 万人次 …), published, source.",
    ),
    replace: bool = typer.Option(False, help="Record changed values as new versions instead of refusing them."),
) -> None:
    """Add or version published figures; a changed value is refused without --replace."""
    from yzcore.official import OfficialFileError, parse
    from yzcore.settings import get_settings
    from yzcore.store import StoreError

    try:
        result = store_releases(get_settings(), parse(file), replace)
    except (OfficialFileError, StoreError) as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    _out.print(
        f"official releases: {result['added']} added, {result['replaced']} replaced (new version), "
        f"{result['unchanged']} unchanged"
    )


def store_releases(settings: Settings, releases: list[Release], replace: bool = False) -> dict:
    """Import releases through the worker while it owns the embedded store, else directly; the counts."""
    import httpx

    from yzcore.official import OfficialFileError, import_releases
    from yzcore.store import connect, worker_alive

    if settings.embedded_store and worker_alive(settings):
        body = {"rows": [release_body(r) for r in releases], "replace": replace}
        resp = httpx.post(f"{settings.worker_url}/official", json=body, timeout=60)
        if resp.status_code != 200:
            raise OfficialFileError(resp.text)
        return resp.json()
    return import_releases(connect(settings.store_dsn), releases, replace).__dict__


def release_body(r: Release) -> dict:
    """A release as the file row it came from (base units), for the worker's /official endpoint."""
    return {
        "metric": r.metric,
        "scope": r.scope,
        "year": r.year,
        "period": str(r.end_month),
        "sector": r.sector,
        "basis": r.basis,
        "level": "" if r.level is None else str(r.level),
        "growth_pct": "" if r.growth_pct is None else str(r.growth_pct),
        "unit": r.unit,
        "published": r.published.isoformat(),
        "source": r.source,
    }


@official_app.command("list")
def official_list(metric: str = typer.Option("", help="Only this metric (retail_sales, visits, tourists …).")) -> None:
    """The current version of every published figure, levels in 亿元 / 万人次."""
    from yzcore.settings import get_settings
    from yzcore.store import query_reader

    out = query_reader(get_settings()).raw(
        "SELECT metric, scope, year,"
        " multiIf(end_month = 12, '全年', concat('1—', toString(end_month), '月')) AS period, sector, basis,"
        " round(toFloat64(level) / if(unit = '元', 1e8, 1e4), 2) AS level,"
        " if(unit = '元', '亿元', '万人次') AS shown_in, growth_pct, published, latest_version AS version, source"
        " FROM v_official WHERE {m:String} = '' OR metric = {m:String}"
        " ORDER BY metric, scope, year, end_month, sector, basis",
        parameters={"m": metric},
        fmt="PrettyCompactMonoBlock",
    )
    sys.stdout.write(out.decode())


@official_app.command("simulated")
def official_simulated(
    out: Path = typer.Argument(..., dir_okay=False, help="CSV to write (import it with `yzmon official import`)."),
    seed: int = typer.Option(7, help="The simulated economy's seed (its basis is sim-tjj-SEED)."),
    first: int = typer.Option(2018, help="First year."),
    last: int = typer.Option(2025, help="Last year."),
) -> None:
    """The simulated bureau's first releases of 渝中 社零 (total and per sector, 1—3月 … 全年) and 解放碑's 客流."""
    import csv

    from schemas.calendar import CalendarCoverageError, check_covered
    from simulators.sample import releases, visit_releases

    try:
        check_covered(date(first, 1, 1))
        check_covered(date(last, 12, 31))
    except CalendarCoverageError as exc:
        _err.print(f"[bold red]error:[/] {exc}")
        raise typer.Exit(1) from None
    found = releases(seed, range(first, last + 1)) + visit_releases(seed, range(first, last + 1))
    with out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(found[0]))
        writer.writeheader()
        writer.writerows(found)
    _out.print(f"wrote {out} ({len(found)} releases, basis sim-tjj-{seed})")
