"""`yzmon dashboards push` against a local fake Grafana that checks each request as Grafana's HTTP API documents it.

Docs: grafana.com/docs/grafana/latest/developers/http_api/ (folder, dashboard, data_source, authentication).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from yzmon.dashboards_cli import dashboards_app
from yzmon.grafana_push import PushError, clickhouse_datasource, push

DASHBOARDS = Path(__file__).resolve().parent.parent / "dashboards"
TOKEN = "glsa_test_token"
VIEWER = "glsa_viewer_token"


class FakeGrafana:
    def __init__(self) -> None:
        self.folders: dict[str, dict[str, Any]] = {}
        self.datasources: dict[str, dict[str, Any]] = {}
        self.dashboards: dict[str, dict[str, Any]] = {}
        self.requests: list[tuple[str, str]] = []
        self.errors: list[str] = []  # protocol violations seen by the server
        self.lock = threading.Lock()


def _handler(state: FakeGrafana) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _body(self) -> Any:
            if self.headers.get("Content-Type", "").split(";")[0] != "application/json":
                state.errors.append(f"{self.command} {self.path}: Content-Type {self.headers.get('Content-Type')}")
            length = int(self.headers.get("Content-Length", 0))
            return json.loads(self.rfile.read(length) or b"null")

        def _route(self) -> None:
            with state.lock:
                state.requests.append((self.command, self.path))
                auth = self.headers.get("Authorization", "")
                if auth not in (f"Bearer {TOKEN}", f"Bearer {VIEWER}"):
                    return self._send(401, {"message": "Unauthorized"})
                writing = self.command in ("POST", "PUT", "DELETE")
                if writing and auth == f"Bearer {VIEWER}":
                    return self._send(403, {"message": "You'll need additional permissions to perform this action."})
                parts = self.path.split("?")[0].strip("/").split("/")
                handler = getattr(self, f"_{self.command.lower()}", None)
                if parts[0] != "api" or handler is None:
                    return self._send(404, {"message": "Not found"})
                return handler(parts[1:])

        do_GET = do_POST = do_PUT = _route

        # GET /api/folders/:uid, GET /api/datasources/uid/:uid, GET /api/dashboards/uid/:uid
        def _get(self, p: list[str]) -> None:
            if p == ["folders"]:
                return self._send(200, [{"uid": f["uid"], "title": f["title"]} for f in state.folders.values()])
            if p[:1] == ["folders"] and len(p) == 2:
                folder = state.folders.get(p[1])
                return self._send(200, folder) if folder else self._send(404, {"message": "folder not found"})
            if p[:2] == ["datasources", "uid"] and len(p) == 3:
                ds = state.datasources.get(p[2])
                return self._send(200, ds) if ds else self._send(404, {"message": "Data source not found"})
            if p[:2] == ["dashboards", "uid"] and len(p) == 3 and p[2] in state.dashboards:
                return self._send(200, state.dashboards[p[2]])
            return self._send(404, {"message": "Not found"})

        # POST /api/folders, POST /api/datasources, POST /api/dashboards/db
        def _post(self, p: list[str]) -> None:
            body = self._body()
            if p == ["folders"]:
                if not body.get("title"):
                    return self._send(400, {"message": "folder title cannot be empty"})
                if body.get("uid") in state.folders:
                    return self._send(409, {"message": "a folder with the same uid already exists"})
                folder = {
                    "id": len(state.folders) + 1,
                    "uid": body.get("uid") or "generated",
                    "title": body["title"],
                    "version": 1,
                }
                state.folders[folder["uid"]] = folder
                return self._send(200, folder)
            if p == ["datasources"]:
                missing = {"name", "type", "access"} - set(body)
                if missing:
                    return self._send(400, {"message": f"missing {sorted(missing)}"})
                if any(d["name"] == body["name"] for d in state.datasources.values()):
                    return self._send(409, {"message": "data source with the same name already exists"})
                ds = {**body, "id": len(state.datasources) + 1, "version": 1}
                ds.pop("secureJsonData", None)
                state.datasources[body["uid"]] = ds
                return self._send(
                    200, {"datasource": ds, "id": ds["id"], "message": "Datasource added", "name": ds["name"]}
                )
            if p == ["dashboards", "db"]:
                dash = body.get("dashboard")
                if not isinstance(dash, dict) or not dash.get("title"):
                    return self._send(400, {"message": "Dashboard title cannot be empty"})
                if body.get("folderUid") not in state.folders:
                    return self._send(400, {"message": "folder not found"})
                if dash.get("id") is not None:
                    state.errors.append(f"dashboard {dash.get('uid')} sent with an instance id")
                existing = state.dashboards.get(dash["uid"])
                if existing and body.get("overwrite") is not True:
                    return self._send(412, {"status": "name-exists", "message": "A dashboard with the same uid"})
                version = existing["meta"]["version"] + 1 if existing else 1
                state.dashboards[dash["uid"]] = {
                    "dashboard": dash,
                    "meta": {"folderUid": body["folderUid"], "version": version},
                }
                return self._send(
                    200,
                    {
                        "id": 1,
                        "uid": dash["uid"],
                        "status": "success",
                        "version": version,
                        "url": f"/d/{dash['uid']}/x",
                        "slug": "x",
                    },
                )
            return self._send(404, {"message": "Not found"})

        # PUT /api/datasources/uid/:uid, PUT /api/folders/:uid
        def _put(self, p: list[str]) -> None:
            body = self._body()
            if p[:2] == ["datasources", "uid"] and len(p) == 3:
                if p[2] not in state.datasources:
                    return self._send(404, {"message": "Data source not found"})
                ds = {**state.datasources[p[2]], **body}
                ds.pop("secureJsonData", None)
                ds["version"] += 1
                state.datasources[p[2]] = ds
                return self._send(200, {"datasource": ds, "id": ds["id"], "message": "Datasource updated"})
            if p[:1] == ["folders"] and len(p) == 2 and p[1] in state.folders:
                state.folders[p[1]]["title"] = body["title"]
                return self._send(200, state.folders[p[1]])
            return self._send(404, {"message": "Not found"})

    return Handler


@pytest.fixture
def grafana() -> Iterator[tuple[str, FakeGrafana]]:
    state = FakeGrafana()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", state
    finally:
        server.shutdown()
        server.server_close()


DS = clickhouse_datasource("http://clickhouse:8123", "grafana", "secret")


def _uids() -> set[str]:
    return {json.loads(p.read_text(encoding="utf-8"))["uid"] for p in DASHBOARDS.glob("*.json")}


def test_push_creates_folder_datasource_and_dashboards(grafana):
    url, state = grafana
    result = push(url, TOKEN, DASHBOARDS, datasource=DS)
    assert result.folder_created and result.datasource == "created" and set(result.dashboards) == _uids()
    assert state.folders["yzmon"]["title"] == "渝中商圈监测"
    ds = state.datasources["yzmon-clickhouse"]
    assert ds["type"] == "grafana-clickhouse-datasource"
    assert ds["jsonData"] == {
        "host": "clickhouse",
        "port": 8123,
        "protocol": "http",
        "secure": False,
        "username": "grafana",
        "defaultDatabase": "yzmon",
    }
    assert {u: d["meta"]["folderUid"] for u, d in state.dashboards.items()} == dict.fromkeys(_uids(), "yzmon")
    assert not state.errors
    methods = [(m, p) for m, p in state.requests if m != "GET"]
    assert ("POST", "/api/folders") in methods and ("POST", "/api/datasources") in methods
    assert methods.count(("POST", "/api/dashboards/db")) == len(_uids())


def test_push_twice_is_idempotent(grafana):
    url, state = grafana
    push(url, TOKEN, DASHBOARDS, datasource=DS)
    before = {u: d["dashboard"] for u, d in state.dashboards.items()}
    state.requests.clear()
    again = push(url, TOKEN, DASHBOARDS, datasource=DS)
    assert not again.folder_created and again.datasource == "updated"
    assert len(state.folders) == 1 and len(state.datasources) == 1
    assert {u: d["dashboard"] for u, d in state.dashboards.items()} == before
    assert all(d["meta"]["version"] == 2 for d in state.dashboards.values())
    assert ("GET", "/api/folders/yzmon") in state.requests and ("POST", "/api/folders") not in state.requests
    assert ("GET", "/api/datasources/uid/yzmon-clickhouse") in state.requests
    assert ("PUT", "/api/datasources/uid/yzmon-clickhouse") in state.requests
    assert not state.errors


def test_without_a_datasource_it_is_left_alone(grafana):
    url, state = grafana
    result = push(url, TOKEN, DASHBOARDS)
    assert result.datasource is None and not state.datasources
    assert not any("datasources" in p for _, p in state.requests)


def test_a_bad_token_is_a_clear_error(grafana):
    url, state = grafana
    with pytest.raises(PushError, match=r"refused the request \(401\).*token is missing, wrong or expired"):
        push(url, "wrong", DASHBOARDS, datasource=DS)
    assert not state.folders and not state.dashboards


def test_a_token_without_permission_is_a_clear_error(grafana):
    url, _ = grafana
    with pytest.raises(PushError, match=r"\(403\).*lacks permission"):
        push(url, VIEWER, DASHBOARDS, datasource=DS)


def test_an_unreachable_server_is_a_clear_error(free_port):
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(PushError, match=r"cannot reach Grafana at http://127\.0\.0\.1:\d+"):
        push(url, TOKEN, DASHBOARDS, datasource=DS, timeout=2)


def test_an_empty_directory_is_refused(tmp_path):
    with pytest.raises(PushError, match="no dashboards"):
        push("http://127.0.0.1:9", TOKEN, tmp_path)


def test_the_cli(grafana):
    url, state = grafana
    runner = CliRunner()
    ok = runner.invoke(dashboards_app, ["push", "--url", url, "--token", TOKEN, "--datasource-password", "pw"])
    assert ok.exit_code == 0, ok.output
    assert "yzmon-sales-targets" in ok.output and state.datasources
    bad = runner.invoke(dashboards_app, ["push", "--url", url, "--token", "nope", "--skip-datasource"])
    assert bad.exit_code == 1 and "401" in bad.output


def test_a_folder_provisioned_by_title_is_reused_not_duplicated(grafana):
    """File provisioning creates 渝中商圈监测 with a uid of its own (alert rules name folders by title): a push
    puts the dashboards there instead of making a second folder of the same title."""
    url, state = grafana
    state.folders["Xy12abc"] = {"id": 7, "uid": "Xy12abc", "title": "渝中商圈监测", "version": 1}
    result = push(url, TOKEN, DASHBOARDS)
    assert not result.folder_created and result.folder_uid == "Xy12abc" and len(state.folders) == 1
    assert {d["meta"]["folderUid"] for d in state.dashboards.values()} == {"Xy12abc"}
