"""The worker's backup view: POST /admin/backup {"to": path} takes a backup of the store it owns
(``yzcore.backup``) under the writer's lock, so the backup is consistent across tables."""

from __future__ import annotations

import asyncio

from faust import web

from yzcore.backup import BackupError, backup

blueprint = web.Blueprint("backup")


@blueprint.route("admin/backup", name="backup")
class BackupView(web.View):
    async def post(self, request: web.Request) -> web.Response:
        body = await request.json()
        sink = self.app.sink  # type: ignore[attr-defined]
        where = str(body.get("to", ""))

        def take(client):
            return backup(client, where, embedded=sink.dsn.startswith("chdb:"))

        try:
            result = await asyncio.get_running_loop().run_in_executor(None, lambda: sink.call(take, urgent=True))
        except BackupError as exc:
            return self.json({"error": str(exc)}, status=400)
        except Exception as exc:  # noqa: BLE001 - the engine's message is what the operator needs
            return self.json({"error": str(exc).strip().splitlines()[0][:500]}, status=500)
        return self.json(result.as_dict())
