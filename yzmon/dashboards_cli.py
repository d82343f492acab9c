"""CLI pieces for Grafana and the briefing: ``yzmon dashboards push`` and ``yzmon report``.

Registered in yzmon/cli.py with ``app.add_typer(dashboards_app, name="dashboards")`` and
``app.command("report")(report)``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import typer
from rich.console import Console

__all__ = ["dashboards_app", "report"]

DEFAULT_DIR = Path(__file__).resolve().parent.parent / "dashboards"

dashboards_app = typer.Typer(help="Grafana dashboards: install or update them in a Grafana.", no_args_is_help=True)
_out = Console()
_err = Console(stderr=True)


@dashboards_app.callback()
def _dashboards() -> None:
    """Grafana dashboards: install or update them in a Grafana."""


def _fail(message: str) -> None:
    _err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(1)


@dashboards_app.command("push")
def push_command(
    url: str = typer.Option(..., "--url", envvar="GRAFANA_URL", help="Grafana base URL, e.g. http://localhost:3000"),
    token: str = typer.Option(
        ..., "--token", envvar="GRAFANA_TOKEN", help="Service-account token with the Admin role."
    ),
    directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="Directory of dashboard JSON files."),
    folder: str = typer.Option("渝中商圈监测", "--folder", help="Folder title (folder uid: yzmon)."),
    datasource_url: str = typer.Option(
        "http://clickhouse:8123", "--datasource-url", help="ClickHouse URL as Grafana sees it (http[s]:// or tcp://)."
    ),
    datasource_user: str = typer.Option("grafana", "--datasource-user", help="Read-only ClickHouse user."),
    datasource_password: str | None = typer.Option(
        None,
        "--datasource-password",
        envvar="YZMON_GRAFANA_CH_PASSWORD",
        help="Its password. Not given: none is sent, and Grafana keeps the one it has stored.",
    ),
    datasource_database: str = typer.Option("yzmon", "--datasource-database", help="Default database."),
    skip_datasource: bool = typer.Option(
        False, "--skip-datasource", help="Leave the datasource alone (e.g. it is file-provisioned)."
    ),
) -> None:
    """Install or update the folder, the ClickHouse datasource (uid yzmon-clickhouse) and all dashboards."""
    from yzmon.grafana_push import PushError, clickhouse_datasource, push

    ds = (
        None
        if skip_datasource
        else clickhouse_datasource(datasource_url, datasource_user, datasource_password, datasource_database)
    )
    try:
        result = push(url, token, directory, folder_title=folder, datasource=ds)
    except PushError as exc:
        _fail(str(exc))
        return
    state = "created" if result.folder_created else "exists"
    ds_state = {
        None: "not managed",
        "provisioned": "file-provisioned (read-only) in that Grafana, left alone: change it in its provisioning file",
    }.get(result.datasource, result.datasource)
    if result.datasource in ("created", "updated"):
        ds_state += " (password sent)" if datasource_password is not None else " (no password sent; stored one kept)"
    _out.print(
        f"folder {result.folder_uid} ({state}); datasource: {ds_state}; "
        f"{len(result.dashboards)} dashboards: {', '.join(result.dashboards) or '-'}"
    )
    if result.provisioned:
        _out.print(
            f"left alone, file-provisioned in that Grafana (it refuses to save them): {', '.join(result.provisioned)}"
        )


def report(
    day: str = typer.Option(..., "--date", help="The Beijing-time day of the briefing, YYYY-MM-DD."),
    out: Path = typer.Option(Path("briefing.html"), "--out", help="HTML file to write."),
    png: Path | None = typer.Option(None, "--png", help="Also write a PNG screenshot (needs Chromium)."),
    pdf: Path | None = typer.Option(None, "--pdf", help="Also write a PDF for mail (needs Chromium)."),
    directory: Path = typer.Option(DEFAULT_DIR, "--dir", help="Directory of dashboard JSON files."),
) -> None:
    """Render the dashboards' panels for one day into a static HTML briefing (and optionally a PNG)."""
    from yzcore.settings import get_settings
    from yzcore.store import StoreError, query_reader
    from yzmon.report import ReportError, render_report, screenshot
    from yzmon.report import pdf as print_pdf

    try:
        when: date = datetime.strptime(day, "%Y-%m-%d").date()
    except ValueError:
        _fail(f"--date must be YYYY-MM-DD, got {day!r}")
        return
    try:
        html = render_report(query_reader(get_settings()), when, directory)
        out.write_text(html, encoding="utf-8")
        _out.print(f"wrote {out}")
        if png is not None:
            screenshot(out, png)
            _out.print(f"wrote {png}")
        if pdf is not None:
            print_pdf(out, pdf)
            _out.print(f"wrote {pdf}")
    except (ReportError, StoreError) as exc:
        _fail(str(exc))
