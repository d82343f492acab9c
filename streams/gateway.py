"""The worker's web endpoints, a Blueprint registered on the app: /health, /status, /admin/store-outage,
/targets and /sql (read-only queries on the store it owns)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING, Any, cast

from faust.web import Blueprint, Request, Response, View

if TYPE_CHECKING:
    from streams.app import YzApp

ALLOWED_FORMATS = {
    "JSON",
    "JSONEachRow",
    "JSONCompact",
    "CSVWithNames",
    "TSVWithNames",
    "PrettyCompactMonoBlock",
    "PrettyCompact",
    "Markdown",
    "Native",
}


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


@blueprint.route("sql", name="sql")
class Sql(View):
    async def post(self, request: Request) -> Response:
        body: dict[str, Any] = await request.json()
        fmt = body.get("format", "JSON")
        if fmt not in ALLOWED_FORMATS:
            return self.text(f"format {fmt!r} not offered; use one of {sorted(ALLOWED_FORMATS)}", status=400)
        loop = asyncio.get_running_loop()
        try:
            sink = _app(self).sink
            data = await loop.run_in_executor(None, sink.query, body["sql"], body.get("parameters") or None, fmt)
        except Exception as exc:  # noqa: BLE001 - report the engine's message to the caller
            return self.text(str(exc), status=400)
        return self.bytes(data, content_type="application/octet-stream")
