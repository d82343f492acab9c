"""The worker's web endpoints, a Blueprint registered on the app (/health, /status, /targets, the outage
drill), and, when the worker owns the embedded store, ClickHouse's HTTP interface on its own port
(`readpath.sqlhttp`), read-only: the one read path of `yzmon sql`, status, the live view, the report,
analysts and Grafana."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlparse

from faust.web import Blueprint, Request, Response, View

from readpath.sqlhttp import SqlHttpServer

if TYPE_CHECKING:
    from streams.app import YzApp


blueprint = Blueprint("gateway")


def _app(view: View) -> YzApp:
    return cast("YzApp", view.app)


@blueprint.route("health", name="health")
class Health(View):
    async def get(self, request: Request) -> Response:
        return self.json({"ok": True, "pid": os.getpid()})


@blueprint.route("status", name="status")
class Status(View):
    async def get(self, request: Request) -> Response:
        app = _app(self)
        s = app.sink.stats
        assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
        return self.json(
            {
                "pid": os.getpid(),
                "uptime_s": round(time.time() - app.started_at, 1),
                "assigned": assigned,
                "batches": s.batches,
                "landed": dict(s.landed),
                "late": dict(s.late),
                "rejected": [{"feed": f, "reason": r, "count": n} for (f, r), n in sorted(s.rejected.items())],
                "write_errors": s.write_errors,
                "retrying": s.retrying,
                "last_error": s.last_error,
                "last_landed_at": s.last_landed_at,
            }
        )


@blueprint.route("admin/store-outage", name="storeoutage")
class StoreOutage(View):
    """A drill: make every write fail for the given seconds (only with YZMON_FAULT_INJECTION=true)."""

    async def post(self, request: Request) -> Response:
        app = _app(self)
        if not app.yz_settings.fault_injection:
            return self.text("fault injection is off (YZMON_FAULT_INJECTION)", status=404)
        seconds = float((await request.json()).get("seconds", 30))
        app.drill.fail_for(seconds)
        return self.json({"unavailable_for_s": seconds})


@blueprint.route("targets", name="targets")
class Targets(View):
    """Target imports while the worker owns the embedded store (rows are validated again here)."""

    async def post(self, request: Request) -> Response:
        from yzcore.targets import TargetFileError, import_targets, parse_row

        body: dict[str, Any] = await request.json()
        try:
            parsed = [parse_row(r) for r in body.get("rows", [])]
            result = await _app(self).sink.run(lambda c: import_targets(c, parsed, bool(body.get("replace"))))
        except (TargetFileError, ValueError) as exc:
            return self.text(str(exc), status=409)
        return self.json(result.__dict__)  # type: ignore[union-attr]


@blueprint.route("official", name="official")
class Official(View):
    """Official-release imports while the worker owns the embedded store (rows are validated again here)."""

    async def post(self, request: Request) -> Response:
        from yzcore.official import OfficialFileError, import_releases, parse_row

        body: dict[str, Any] = await request.json()
        try:
            parsed = [parse_row(r) for r in body.get("rows", [])]
            result = await _app(self).sink.run(lambda c: import_releases(c, parsed, bool(body.get("replace"))))
        except (OfficialFileError, ValueError) as exc:
            return self.text(str(exc), status=409)
        return self.json(result.__dict__)  # type: ignore[union-attr]


def register_sql_interface(app: YzApp) -> None:
    """Serve ClickHouse's HTTP interface from this worker once it starts (embedded store only)."""
    settings = app.yz_settings
    if not settings.embedded_store:
        return
    server = SqlHttpServer(settings, urlparse(settings.store_dsn).path)

    @app.task
    async def serve_sql() -> None:
        await asyncio.get_running_loop().run_in_executor(None, server.start)

    @app.on_before_shutdown.connect
    async def stop_sql(app: YzApp, **kwargs: Any) -> None:
        await asyncio.get_running_loop().run_in_executor(None, server.stop)
