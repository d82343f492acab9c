"""The worker's web endpoints: /health, /status and /sql (read-only queries on the store it owns)."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

import faust
from faust.web import Request, Response, View

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


def register_views(app: faust.App) -> None:
    sink = app.sink  # type: ignore[attr-defined]
    started = time.time()

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            return self.json({"ok": True, "pid": os.getpid()})

    @app.page("/status")
    class Status(View):
        async def get(self, request: Request) -> Response:
            s = sink.stats
            assigned = sorted(f"{tp.topic}:{tp.partition}" for tp in app.consumer.assignment())
            return self.json(
                {
                    "pid": os.getpid(),
                    "uptime_s": round(time.time() - started, 1),
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

    @app.page("/admin/store-outage")
    class StoreOutage(View):
        """A drill: make every write fail for the given seconds (only with YZMON_FAULT_INJECTION=true)."""

        async def post(self, request: Request) -> Response:
            if not app.yz_settings.fault_injection:  # type: ignore[attr-defined]
                return self.text("fault injection is off (YZMON_FAULT_INJECTION)", status=404)
            seconds = float((await request.json()).get("seconds", 30))
            sink.unavailable_until = time.time() + seconds
            return self.json({"unavailable_for_s": seconds})

    @app.page("/targets")
    class Targets(View):
        """Target imports while the worker owns the embedded store (rows are validated again here)."""

        async def post(self, request: Request) -> Response:
            from yzcore.targets import TargetFileError, import_targets, parse_row

            body: dict[str, Any] = await request.json()
            try:
                parsed = [parse_row(r) for r in body.get("rows", [])]
                result = await sink.run(lambda c: import_targets(c, parsed, bool(body.get("replace"))))
            except (TargetFileError, ValueError) as exc:
                return self.text(str(exc), status=409)
            return self.json(result.__dict__)  # type: ignore[union-attr]

    @app.page("/sql")
    class Sql(View):
        async def post(self, request: Request) -> Response:
            body: dict[str, Any] = await request.json()
            fmt = body.get("format", "JSON")
            if fmt not in ALLOWED_FORMATS:
                return self.text(f"format {fmt!r} not offered; use one of {sorted(ALLOWED_FORMATS)}", status=400)
            loop = asyncio.get_running_loop()
            try:
                data = await loop.run_in_executor(None, sink.query, body["sql"], body.get("parameters") or None, fmt)
            except Exception as exc:  # noqa: BLE001 - report the engine's message to the caller
                return self.text(str(exc), status=400)
            return self.bytes(data, content_type="application/octet-stream")
