"""The yzmon command line: `yzmon --help`."""

from __future__ import annotations

import sys
from datetime import date, datetime, timedelta
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console

from yzcore.settings import Settings, get_settings
from yzmon.alerts_cli import alerts_app
from yzmon.broker import StackError
from yzmon.dashboards_cli import dashboards_app, report
from yzmon.db_cli import db_backup, db_restore, db_status
from yzmon.errors import explain, log_traceback, missing_object
from yzmon.nowcast_cli import nowcast_app
from yzmon.official_cli import official_app

app = typer.Typer(
    help="渝中商圈消费与客流监测 — consumption and visitor-flow monitor for Yuzhong.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
targets_app = typer.Typer(help="Annual targets.", no_args_is_help=True)
app.add_typer(db_app, name="db")
db_app.command("backup")(db_backup)
db_app.command("restore")(db_restore)
db_app.command("status")(db_status)
app.add_typer(dashboards_app, name="dashboards")
app.add_typer(alerts_app, name="alerts")
app.add_typer(targets_app, name="targets")
app.add_typer(official_app, name="official")
app.add_typer(nowcast_app, name="nowcast")
app.command("report")(report)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _restarting() -> str | None:
    """What to say instead of an error while the stack's supervisor brings its worker back."""
    from yzmon.stackinfo import worker_restarting

    notice = worker_restarting(get_settings())
    return f"{notice}: try again in a few seconds" if notice else None


class OutputFormat(StrEnum):
    table = "table"
    csv = "csv"
    json = "json"


_FORMATS = {
    OutputFormat.table: "PrettyCompactMonoBlock",
    OutputFormat.csv: "CSVWithNames",
    OutputFormat.json: "JSONEachRow",
}


@app.command()
def up(
    detach: bool = typer.Option(False, "--detach", "-d", help="Run in the background; stop with `yzmon down`."),
) -> None:
    """Start the embedded stack: broker (unless YZMON_KAFKA_BOOTSTRAP is set), schema, Faust worker, under a
    supervisor that restarts a crashed worker or broker and bounds the broker's memory (README).
    """
    from yzmon.stack import Stack

    settings = get_settings()
    if detach:
        from yzmon.stack import up_detached

        try:
            pid = up_detached(settings)
        except StackError as exc:
            _fail(str(exc))
        console.print(f"stack up in the background (pid {pid}); `yzmon status`, `yzmon down`")
        _print_addresses(settings)
        return
    stack = Stack(settings)
    try:
        with console.status("starting broker and worker …"):
            stack.start()
    except StackError as exc:
        _fail(str(exc))
    console.print(
        f"[green]stack up[/]: Kafka {settings.bootstrap} · worker {settings.worker_url} · "
        f"store {settings.store_dsn} — Ctrl-C stops"
    )
    _print_addresses(settings)
    raise typer.Exit(stack.supervise())


def _print_addresses(settings: Settings) -> None:
    """Where providers send (Kafka) and where analysts read (the SQL interface)."""
    from yzmon.connect_info import connect_lines, provider_lines

    lines = provider_lines(settings) + (connect_lines(settings) if settings.embedded_store else [])
    for line in lines:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


@app.command()
def down() -> None:
    """Stop a stack started with `yzmon up --detach`."""
    from yzmon.stack import down as stop_stack

    if stop_stack(get_settings()):
        console.print("stack stopped")
    else:
        console.print("no detached stack was running")


def _spec(
    scenario: str,
    start: datetime | None,
    end: datetime | None,
    year: int | None,
    seed: int,
    districts: list[str] | None,
    feeds: list[str] | None,
    bad_events: int,
    sample: str = "census",
):
    """The run the arguments describe (simulators.arguments checks them), or a one-line error."""
    from simulators.arguments import RunArgumentError, notes, run_spec

    try:
        spec = run_spec(
            scenario,
            start.date() if start else None,
            end.date() if end else None,
            year,
            seed,
            districts,
            feeds,
            bad_events,
            sample,
        )
    except RunArgumentError as exc:
        _fail(str(exc))
    for note in notes(spec):
        err.print(f"note: {note}")
    return spec


_START = typer.Option(None, formats=["%Y-%m-%d"], help="First day (Asia/Shanghai); default: the scenario's dates.")
_END = typer.Option(None, formats=["%Y-%m-%d"], help="Day after the last one: the range is [start, end).")
_YEAR = typer.Option(None, help="A whole calendar year instead of --start/--end.")
_SCENARIO = typer.Option("baseline", help="Scenario name in simulators/scenarios/ or a YAML path.")
_DISTRICT = typer.Option(None, "--district", help="Only these 商圈 (repeatable).")
_FEED = typer.Option(None, "--feed", help="Only these feeds: sales, footfall, tourists (repeatable).")
_BAD = typer.Option(0, help="Inject this many invalid records per feed per day.")
_SAMPLE = typer.Option(
    "census", help="census: every sale the bureau counts; acquirer: what a card acquirer files (a drifting sample)."
)


@app.command()
def replay(
    scenario: str = _SCENARIO,
    start: datetime | None = _START,
    end: datetime | None = _END,
    year: int | None = _YEAR,
    speed: str = typer.Option("max", help="'max', or simulated seconds per wall second: 1 real time, 60 a minute/s."),
    seed: int = typer.Option(7),
    district: list[str] = _DISTRICT,
    feed: list[str] = _FEED,
    bad_events: int = _BAD,
    resume: bool = typer.Option(False, help="Continue an interrupted replay of the same arguments."),
    sample: str = _SAMPLE,
) -> None:
    """Produce simulated sales, footfall and tourist events onto Kafka. Ctrl-C stops cleanly."""
    from producers.kafka import FeedProducer, ProducerError, linger_ms_for
    from producers.replay import Checkpoint, Interrupted
    from producers.replay import replay as run_replay

    try:
        pace = None if speed == "max" else float(speed)
    except ValueError:
        _fail(f"--speed {speed!r}: use 'max' or a number such as 1 or 60")
    spec = _spec(scenario, start, end, year, seed, district, feed, bad_events, sample)
    settings = get_settings()
    checkpoint = Checkpoint(settings.data_dir, spec)
    try:
        producer = FeedProducer(settings, linger_ms=linger_ms_for(pace), name=f"yzmon replay {spec.scenario.name}")
        try:
            sent = run_replay(spec, producer, pace, checkpoint=checkpoint, resume=resume)
        finally:
            producer.close()
    except ProducerError as exc:
        _fail(str(exc))
    except Interrupted as stopped:
        err.print(
            f"{stopped}; {stopped.position['sent']:,} records confirmed. Continue with the same command and --resume"
        )
        raise typer.Exit(130) from None
    if resume and sent == 0:
        console.print("that replay had already finished; nothing to resume")
        return
    console.print(f"sent {sent:,} records for {len(spec.days)} day(s) to {settings.bootstrap}")


@app.command()
def simulate(
    scenario: str = _SCENARIO,
    start: datetime | None = _START,
    end: datetime | None = _END,
    year: int | None = _YEAR,
    seed: int = typer.Option(7),
    district: list[str] = _DISTRICT,
    feed: list[str] = _FEED,
    bad_events: int = _BAD,
    truth: Path | None = typer.Option(None, help="Write the ground truth CSV here ('-' for stdout)."),
    summary: bool = typer.Option(False, help="Print the calibration figures beside the seed values (with --year)."),
    sample: str = _SAMPLE,
) -> None:
    """Simulate without Kafka: the ground truth of a replay (same arguments, same bytes), or a calibration summary."""
    if not truth and not summary:
        _fail("say what to write: --truth PATH and/or --summary")
    spec = _spec(scenario, start, end, year, seed, district, feed, bad_events, sample)
    if summary:
        if year is None:
            _fail("--summary needs --year (it compares whole years with the seed figures)")
        from schemas.calendar import CalendarCoverageError, check_covered

        try:
            check_covered(date(year + 1, 1, 1))
        except CalendarCoverageError as exc:
            _fail(f"--summary compares {year} with {year + 1}: {exc}")
        _print_calibration(spec.scenario, seed, year)
    if truth:
        from simulators.run import truth as compute_truth

        text = compute_truth(spec).to_csv()
        if str(truth) == "-":
            sys.stdout.write(text)
        else:
            truth.write_text(text, encoding="utf-8")
            err.print(f"wrote {truth} ({text.count(chr(10)) - 1} rows)")


def _print_calibration(scenario, seed: int, year: int) -> None:
    from rich.table import Table

    from simulators.calibration import (
        CITED_TOLERANCE,
        SEED_TOLERANCE,
        anchors,
        cited,
        sector_growth_rows,
        year_totals,
    )
    from simulators.model import COVID_YEARS

    with console.status(f"simulating {year} and {year + 1} …"):
        this, after = year_totals(scenario, seed, year), year_totals(scenario, seed, year + 1)
        published = cited(scenario, seed, this)
    if year != 2024:
        err.print("note: the seed anchors are 2024 figures and the 2025 target; compare with care")
    if year in COVID_YEARS or year + 1 in COVID_YEARS:
        err.print(f"note: {year} is simulated as a normal year; the COVID years 2020–2022 were not (counterfactual)")
    t = Table(title=f"calibration · {scenario.name} · seed {seed} · seed anchors within ±{SEED_TOLERANCE:.0%}")
    for col in ("figure", "seed", "expected", "simulated", "error"):
        t.add_column(col, justify="right" if col in ("expected", "simulated", "error") else "left")
    for a in anchors(this, after):
        t.add_row(
            a.label,
            a.seed_text,
            f"{a.expected / a.unit:,.1f} {a.unit_name}",
            f"{a.simulated / a.unit:,.1f} {a.unit_name}",
            f"{a.error:+.2%}",
        )
    console.print(t)
    c = Table(title=f"published holiday and night figures · within ±{CITED_TOLERANCE:.0%}")
    for col in ("figure", "source", "published", "simulated", "error"):
        c.add_column(col, justify="right" if col in ("published", "simulated", "error") else "left", overflow="fold")
    for r in published:
        f = r.figure
        c.add_row(
            f.label,
            f"{f.source}: {f.says}\n{f.url}",
            f"{f.value / f.unit:,.1f} {f.unit_name}",
            f"{r.simulated / f.unit:,.1f} {f.unit_name}",
            f"{r.error:+.2%}",
        )
    console.print(c)
    g = Table(title=f"sector growth {year} → {year + 1}")
    for col in ("sector", "simulated", "seed 004 (H1 2023)"):
        g.add_column(col)
    for sector, sim, seed_rate in sector_growth_rows(this, after):
        g.add_row(sector, f"{sim:+.2%}", f"{seed_rate:+.1%}")
    console.print(g)


@app.command()
def load(
    file: Path = typer.Argument(..., exists=True, dir_okay=False, help="CSV, JSON Lines or Parquet from a provider."),
    feed: str = typer.Option(..., help="sales, footfall or tourists."),
    mapping: Path | None = typer.Option(None, exists=True, dir_okay=False, help="Column mapping (YAML)."),
    speed: str = typer.Option("max", help="'max', 1 for the file's original cadence, or N times faster."),
    dry_run: bool = typer.Option(False, help="Validate and report only; send nothing."),
) -> None:
    """Load a real feed file: map, validate every row (bad rows by line number), publish to Kafka.

    The file streams through in chunks (any size, bounded memory), in file order; at a speed other
    than max, rows are paced by their event time. Exit 0 when every row was valid and sent, 2 when
    some rows were refused (listed in FILE.rejects.csv; the valid ones are sent all the same).
    """
    from producers.files import Mapping, MappingError, count_rows
    from producers.kafka import FeedProducer, ProducerError, linger_ms_for
    from producers.load import FileSource
    from producers.source import Discard, Pacer, pump
    from schemas.feeds import FEEDS

    if feed not in FEEDS:
        _fail(f"unknown feed {feed!r}; choose from {', '.join(FEEDS)}")
    try:
        pace = None if speed == "max" else float(speed)
    except ValueError:
        _fail(f"--speed {speed!r}: use 'max' or a number such as 1 or 60")
    try:
        m = Mapping.load(mapping, feed)
        total = count_rows(file)
    except (MappingError, OSError) as exc:
        _fail(str(exc))
    rejects = file.with_name(file.name + ".rejects.csv")
    rejects.unlink(missing_ok=True)
    settings = get_settings()
    source = FileSource(
        file, m, total, rejects, timedelta(seconds=settings.future_tolerance_s), say=err.print, check_only=dry_run
    )
    try:
        if dry_run:
            pump(source, Discard(), console=err)
        else:
            producer = FeedProducer(
                settings, validate=False, linger_ms=linger_ms_for(pace), name=f"yzmon load {file.name}"
            )
            pump(source, producer, Pacer(pace), console=err)
            producer.close()
    except ProducerError as exc:
        _fail(f"{exc} ({source.good:,} rows of {file.name} were handed over before this)")
    except (MappingError, ValueError, OSError) as exc:
        _fail(f"{file.name}: {exc}")
    good, bad = source.good, source.bad
    if bad:
        err.print(
            f"{bad:,} of {good + bad:,} rows are invalid (all listed in {rejects}); "
            "they are not sent: fix them and load the file again (valid rows load idempotently)"
        )
    console.print(f"{good:,} valid rows {'checked' if dry_run else 'sent'}, {bad:,} invalid")
    if bad:
        raise typer.Exit(2)


@app.command()
def sql(
    query: str | None = typer.Argument(None, help="SQL to run (read-only)."),
    name: str | None = typer.Option(None, "--query", help="Run a named query of sql/queries/ instead."),
    list_queries: bool = typer.Option(False, "--list", help="List the named queries and their parameters."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    param: list[str] = typer.Option(None, "--param", help="k=v, bound as {k:Type} in the query."),
) -> None:
    """Run a read-only query against the store (through the worker when it owns the embedded store)."""
    from yzcore.queries import QueryError, get, library
    from yzcore.store import StoreError, query_reader

    if list_queries:
        for q in library().values():
            console.print(
                f"[bold]{q.name}[/] ({', '.join(f'{k}:{t}' for k, t in q.params.items())})\n"
                f"  {q.description}\n  → {', '.join(q.columns)}"
            )
        return
    params = {}
    for p in param or []:
        if "=" not in p:
            _fail(f"--param {p!r}: write it as name=value")
        k, v = p.split("=", 1)
        params[k] = v
    try:
        if name:
            named = get(name)
            query, params = named.sql, named.bind(params)
        if not query:
            _fail("give SQL, or --query NAME (see --list)")
        out = query_reader(get_settings()).raw(query, params or None, _FORMATS[fmt])
    except (StoreError, QueryError) as exc:
        _fail(_restarting() or str(exc))
    except Exception as exc:  # noqa: BLE001 - engine errors are for the analyst to read
        if _restarting():
            _fail(_restarting() or "")
        if missing_object(exc) is not None:
            _fail(explain(exc, get_settings().query_dsn, own_sql=True))
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
    sample: str = typer.Option("acquirer", help="acquirer: a card acquirer's sample (default); census: every sale."),
) -> None:
    """The main job: start the embedded stack, stream today's simulated feeds live, show a live summary."""
    from yzmon.live import run_live

    raise typer.Exit(run_live(get_settings(), scenario, seed, console, sample))


@db_app.command("migrate")
def db_migrate() -> None:
    """Apply pending sql/NNN_*.sql migrations (idempotent)."""
    from yzcore.migrate import MigrationError, migrate_configured
    from yzcore.store import StoreError

    try:
        applied = migrate_configured(get_settings())
    except (StoreError, MigrationError) as exc:
        _fail(str(exc))
    console.print(f"applied: {', '.join(applied)}" if applied else "schema up to date")


@db_app.command("dictionary")
def db_dictionary(out: Path = typer.Option(Path("docs/data_dictionary.md"), help="Where to write it.")) -> None:
    """Write the data dictionary generated from the live schema."""
    from yzcore.store import StoreError, connect
    from yzmon.dictionary import generate

    settings = get_settings()
    try:
        text = generate(connect(settings.query_dsn, readonly=True, settings=settings))
    except StoreError as exc:
        _fail(str(exc))
    out.write_text(text, encoding="utf-8")
    console.print(f"wrote {out}")


@targets_app.command("import")
def targets_import(
    file: Path = typer.Argument(
        ..., exists=True, dir_okay=False, help="CSV or YAML: year, scope, metric, value, unit, source."
    ),
    replace: bool = typer.Option(False, help="Record changed values as new versions instead of refusing them."),
) -> None:
    """Add or replace targets from a file; nothing is overwritten silently."""
    import httpx

    from yzcore.store import StoreError, connect, worker_alive
    from yzcore.targets import TargetFileError, import_targets, parse

    settings = get_settings()
    try:
        rows = parse(file)
        if settings.embedded_store and worker_alive(settings):
            body = {"rows": [{**r.__dict__, "value": str(r.value)} for r in rows], "replace": replace}
            resp = httpx.post(f"{settings.worker_url}/targets", json=body, timeout=30)
            if resp.status_code != 200:
                raise TargetFileError(resp.text)
            result = resp.json()
        else:
            result = import_targets(connect(settings.store_dsn), rows, replace).__dict__
    except (TargetFileError, StoreError) as exc:
        _fail(str(exc))
    console.print(
        f"targets: {result['added']} added, {result['replaced']} replaced (new version), "
        f"{result['unchanged']} unchanged"
    )


@targets_app.command("list")
def targets_list() -> None:
    """The current targets (latest version of each)."""
    from yzcore.store import query_reader

    out = query_reader(get_settings()).raw(
        "SELECT year, scope, metric, value, unit, latest_version AS version, source FROM v_targets "
        "ORDER BY year, scope, metric",
        fmt="PrettyCompactMonoBlock",
    )
    sys.stdout.write(out.decode())


def main() -> None:
    """The entry point: every failure ends as a plain sentence (its traceback in DATA_DIR/logs/cli.log)."""
    from yzmon.stackinfo import adopt_stack_addresses

    adopt_stack_addresses()  # a stack running on YZMON_DATA_DIR is found from its stack.json alone
    try:
        app()
    except StackError as exc:
        err.print(f"[bold red]error:[/] {exc}")
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - an operator reads a sentence, not a traceback
        settings = get_settings()
        if _restarting():
            err.print(f"[yellow]{_restarting()}[/]")
            sys.exit(1)
        logged = log_traceback(exc, settings.data_dir)
        err.print(f"[bold red]error:[/] {explain(exc, settings.query_dsn)}")
        if logged is not None and missing_object(exc) is None:
            err.print(f"(details in {logged})")
        sys.exit(1)


if __name__ == "__main__":
    main()
