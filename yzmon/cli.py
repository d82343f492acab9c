"""The yzmon command line: `yzmon --help`."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from yzmon.broker import StackError
from yzmon.settings import Settings, get_settings

app = typer.Typer(help="渝中商圈消费与客流监测 — consumption and visitor-flow monitor for Yuzhong.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


_FORMATS = {OutputFormat.table: "PrettyCompactMonoBlock", OutputFormat.csv: "CSVWithNames",
            OutputFormat.json: "JSONEachRow"}


@app.command()
def up(detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background; stop with `yzmon down`."),
       ) -> None:
    """Start the embedded stack: broker (unless YZMON_KAFKA_BOOTSTRAP is set), schema, Faust worker."""
    from yzmon.stack import Stack

    settings = get_settings()
    if detach:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        log = (settings.data_dir / "stack.log").open("ab")
        proc = subprocess.Popen([sys.executable, "-m", "yzmon.cli", "up"], stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        from yzmon.stack import state_file

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = (settings.data_dir / "stack.log").read_text(errors="replace").strip().splitlines()[-1:]
                _fail(f"the stack did not start: {' '.join(tail)}")
            if state_file(settings).exists():
                console.print(f"stack up in the background (pid {proc.pid}); `yzmon status`, `yzmon down`")
                return
            time.sleep(0.2)
        _fail(f"the stack did not become ready within 90 s; see {settings.data_dir / 'stack.log'}")
    stack = Stack(settings)
    try:
        with console.status("starting broker and worker …"):
            stack.start()
    except StackError as exc:
        _fail(str(exc))
    console.print(f"[green]stack up[/]: Kafka {settings.bootstrap} · worker {settings.worker_url} · "
                  f"store {settings.store_dsn} — Ctrl-C stops")
    raise typer.Exit(stack.supervise())


@app.command()
def down() -> None:
    """Stop a stack started with `yzmon up --detach`."""
    from yzmon.stack import down as stop_stack

    if stop_stack(get_settings()):
        console.print("stack stopped")
    else:
        console.print("no detached stack was running")


def _spec(scenario: str, start: date, end: date | None, seed: int, districts: list[str] | None,
          feeds: list[str] | None, bad_events: int):
    from simulators.generate import FEEDS
    from simulators.model import MODELS
    from simulators.run import RunSpec
    from simulators.scenario import load

    try:
        sc = load(scenario)
    except FileNotFoundError as exc:
        _fail(str(exc))
    for d in districts or []:
        if d not in MODELS:
            _fail(f"unknown 商圈 {d!r}; choose from {', '.join(MODELS)}")
    for f in feeds or []:
        if f not in FEEDS:
            _fail(f"unknown feed {f!r}; choose from {', '.join(FEEDS)}")
    end = end or start + timedelta(days=1)
    if end <= start:
        _fail("--end must be after --start (the range is [start, end))")
    return RunSpec(sc, seed, start, end, tuple(districts or MODELS), tuple(feeds or FEEDS), bad_events)


_START = typer.Option(..., formats=["%Y-%m-%d"], help="First day (Asia/Shanghai).")
_END = typer.Option(None, formats=["%Y-%m-%d"], help="Day after the last one: the range is [start, end).")


@app.command()
def replay(
    scenario: str = typer.Option("baseline", help="Scenario name in simulators/scenarios/ or a YAML path."),
    start: datetime = _START,
    end: datetime | None = _END,
    speed: str = typer.Option("max", help="'max', or simulated seconds per wall second: 1 real time, 60 a minute/s."),
    seed: int = typer.Option(7),
    district: list[str] = typer.Option(None, "--district", help="Only these 商圈 (repeatable)."),
    feed: list[str] = typer.Option(None, "--feed", help="Only these feeds (repeatable)."),
    bad_events: int = typer.Option(0, help="Inject this many invalid records per feed per day."),
) -> None:
    """Produce simulated sales, footfall and tourist events onto Kafka."""
    from producers.kafka import FeedProducer, ProducerError
    from yzmon.replay import replay as run_replay

    pace = None if speed == "max" else float(speed)
    spec = _spec(scenario, start.date(), end.date() if end else None, seed, district, feed, bad_events)
    settings = get_settings()
    try:
        producer = FeedProducer(settings.bootstrap)
        sent = run_replay(spec, producer, pace)
        producer.close()
    except ProducerError as exc:
        _fail(str(exc))
    except KeyboardInterrupt:
        _fail("interrupted; records sent so far are in Kafka", 130)
    console.print(f"sent {sent:,} records for {len(spec.days)} day(s) to {settings.bootstrap}")


@app.command()
def simulate(
    scenario: str = typer.Option("baseline"),
    start: datetime = _START,
    end: datetime | None = _END,
    seed: int = typer.Option(7),
    district: list[str] = typer.Option(None, "--district"),
    feed: list[str] = typer.Option(None, "--feed"),
    bad_events: int = typer.Option(0),
    truth: Path = typer.Option(..., help="Write the ground truth CSV here ('-' for stdout)."),
) -> None:
    """Write the ground truth of a replay without Kafka (same arguments, same seed, same bytes)."""
    from simulators.run import truth as compute_truth

    spec = _spec(scenario, start.date(), end.date() if end else None, seed, district, feed, bad_events)
    text = compute_truth(spec).to_csv()
    if str(truth) == "-":
        sys.stdout.write(text)
    else:
        truth.write_text(text, encoding="utf-8")
        err.print(f"wrote {truth} ({text.count(chr(10)) - 1} rows)")


@app.command()
def sql(
    query: str = typer.Argument(..., help="SQL to run (read-only)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    param: list[str] = typer.Option(None, "--param", help="k=v, bound as {k:Type} in the query."),
) -> None:
    """Run a read-only query against the store (through the worker when it owns the embedded store)."""
    from yzmon.store import StoreError, query_reader

    params = {}
    for p in param or []:
        if "=" not in p:
            _fail(f"--param {p!r}: write it as name=value")
        k, v = p.split("=", 1)
        params[k] = v
    try:
        out = query_reader(get_settings()).raw(query, params or None, _FORMATS[fmt])
    except StoreError as exc:
        _fail(str(exc))
    except Exception as exc:  # noqa: BLE001 - engine errors are for the analyst to read
        _fail(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
    sys.stdout.write(out.decode("utf-8", "replace"))


@app.command()
def status() -> None:
    """Broker, worker, consumer lag, rows landed, rejected events, and the year against its targets."""
    from yzmon.status import render_status

    raise typer.Exit(render_status(get_settings(), console))


@app.command()
def run(
    seed: int = typer.Option(7),
    scenario: str = typer.Option("baseline"),
) -> None:
    """The main job: start the embedded stack, stream today's simulated feeds live, show a live summary."""
    from yzmon.live import run_live

    raise typer.Exit(run_live(get_settings(), scenario, seed, console))


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending sql/NNN_*.sql migrations (idempotent)."""
    from yzmon.migrate import MigrationError, migrate
    from yzmon.store import StoreError, connect

    settings: Settings = get_settings()
    try:
        applied = migrate(connect(settings.store_dsn))
    except (StoreError, MigrationError) as exc:
        _fail(str(exc))
    console.print(f"applied: {', '.join(applied)}" if applied else "schema up to date")


def main() -> None:
    try:
        app()
    except StackError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)


if __name__ == "__main__":
    main()
