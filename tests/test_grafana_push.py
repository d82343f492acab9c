"""`yzmon dashboards push` against a local fake Grafana that checks each request as Grafana's HTTP API documents it.

Docs: grafana.com/docs/grafana/latest/developers/http_api/ (folder, dashboard, data_source, authentication).
Behaviour ported from grafana/grafana's source:
- secrets: a datasource's secureJsonData is stored apart and never returned (GET shows secureJsonFields); an update
  keeps the stored value of every key missing from its secureJsonData and replaces the keys given, even with ""
  (pkg/services/datasources/service/datasource.go, ``fillWithSecureJSONData``);
- read-only datasources: a file-provisioned datasource is ``readOnly``; any update answers 403 "Cannot update
  read-only data source" (pkg/api/datasources.go, ``updateDataSourceByID``);
- provisioned dashboards: GET shows ``meta.provisioned``; saving one answers 400 "Cannot save provisioned dashboard"
  (pkg/services/dashboards/service/dashboard_service.go, ``BuildSaveDashboardCommand`` →
  ``ErrDashboardCannotSaveProvisionedDashboard``, status 400).
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
        self.secrets: dict[str, dict[str, str]] = {}  # datasource uid -> its secureJsonData (never returned)
        self.provisioned: set[str] = set()  # dashboard uids from provisioning files
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
                if not ds:
                    return self._send(404, {"message": "Data source not found"})
                fields = {k: True for k, v in state.secrets.get(p[2], {}).items() if v}
                return self._send(200, {**ds, "secureJsonFields": fields})
            if p[:2] == ["dashboards", "uid"] and len(p) == 3 and p[2] in state.dashboards:
                found = state.dashboards[p[2]]
                return self._send(200, {**found, "meta": {**found["meta"], "provisioned": p[2] in state.provisioned}})
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
                ds = {**body, "id": len(state.datasources) + 1, "version": 1, "readOnly": False}
                state.secrets[body["uid"]] = dict(ds.pop("secureJsonData", None) or {})
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
                if dash.get("uid") in state.provisioned:
                    return self._send(400, {"message": "Cannot save provisioned dashboard"})
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
                if state.datasources[p[2]].get("readOnly"):
                    return self._send(403, {"message": "Cannot update read-only data source"})
                given = body.get("secureJsonData") or {}
                state.secrets[p[2]] = {**state.secrets.get(p[2], {}), **given}  # missing keys keep their value
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


def test_a_push_without_a_password_keeps_the_stored_one(grafana):
    """The done-when case: the password set once (here by a first push) survives a later push that gives none."""
    url, state = grafana
    push(url, TOKEN, DASHBOARDS, datasource=clickhouse_datasource("http://clickhouse:8123", "grafana", "s3cret"))
    assert state.secrets["yzmon-clickhouse"] == {"password": "s3cret"}
    state.requests.clear()
    result = push(url, TOKEN, DASHBOARDS, datasource=clickhouse_datasource("http://clickhouse:8124", "grafana"))
    assert result.datasource == "updated" and state.datasources["yzmon-clickhouse"]["jsonData"]["port"] == 8124
    assert state.secrets["yzmon-clickhouse"] == {"password": "s3cret"}
    assert "secureJsonData" not in clickhouse_datasource("http://clickhouse:8123", "grafana")


def test_the_fake_replaces_a_secret_sent_empty_as_grafana_does(grafana):
    """What the old default did: a password sent as "" replaces the stored one (the merge keeps missing keys only)."""
    url, state = grafana
    push(url, TOKEN, DASHBOARDS, datasource=clickhouse_datasource("http://clickhouse:8123", "grafana", "s3cret"))
    push(url, TOKEN, DASHBOARDS, datasource=clickhouse_datasource("http://clickhouse:8123", "grafana", ""))
    assert state.secrets["yzmon-clickhouse"] == {"password": ""}


def test_the_cli_sends_no_password_unless_given(grafana, monkeypatch):
    url, state = grafana
    monkeypatch.delenv("YZMON_GRAFANA_CH_PASSWORD", raising=False)
    runner = CliRunner()
    first = runner.invoke(dashboards_app, ["push", "--url", url, "--token", TOKEN, "--datasource-password", "pw"])
    assert first.exit_code == 0 and "(password sent)" in first.output
    again = runner.invoke(dashboards_app, ["push", "--url", url, "--token", TOKEN])
    assert again.exit_code == 0, again.output
    assert "no password sent; stored one kept" in again.output
    assert state.secrets["yzmon-clickhouse"] == {"password": "pw"}


def test_a_provisioned_datasource_is_left_alone_with_a_true_explanation(grafana):
    """The compose Grafana provisions yzmon-clickhouse from a file: it is read-only, and a push says so instead of
    blaming the token."""
    url, state = grafana
    state.datasources["yzmon-clickhouse"] = {**DS, "id": 1, "version": 3, "readOnly": True}
    state.datasources["yzmon-clickhouse"].pop("secureJsonData")
    state.secrets["yzmon-clickhouse"] = {"password": "from-the-file"}
    result = push(url, TOKEN, DASHBOARDS, datasource=clickhouse_datasource("http://elsewhere:8123", "grafana", "x"))
    assert result.datasource == "provisioned" and set(result.dashboards) == _uids()
    assert state.datasources["yzmon-clickhouse"]["jsonData"]["host"] == "clickhouse"
    assert state.secrets["yzmon-clickhouse"] == {"password": "from-the-file"}
    assert ("PUT", "/api/datasources/uid/yzmon-clickhouse") not in state.requests
    runner = CliRunner()
    out = runner.invoke(dashboards_app, ["push", "--url", url, "--token", TOKEN])
    assert out.exit_code == 0 and "file-provisioned (read-only)" in out.output and "permission" not in out.output


def test_a_read_only_refusal_is_explained_as_provisioning_not_permission(grafana, monkeypatch):
    """Should a lookup not show readOnly, the 403 of the update itself is recognised."""
    url, state = grafana
    push(url, TOKEN, DASHBOARDS, datasource=DS)
    state.datasources["yzmon-clickhouse"]["readOnly"] = True
    from yzmon import grafana_push

    real = grafana_push.GrafanaApi.from_url

    def from_url(*a, **kw):  # the lookup hides readOnly; the update still meets the read-only check
        api = real(*a, **kw)
        get = api.datasource.get_datasource_by_uid
        api.datasource.get_datasource_by_uid = lambda uid: {k: v for k, v in get(uid).items() if k != "readOnly"}
        return api

    monkeypatch.setattr(grafana_push.GrafanaApi, "from_url", from_url)
    result = push(url, TOKEN, DASHBOARDS, datasource=DS)
    assert result.datasource == "provisioned"
    assert ("PUT", "/api/datasources/uid/yzmon-clickhouse") in state.requests


def test_provisioned_dashboards_are_left_alone_and_listed(grafana):
    url, state = grafana
    push(url, TOKEN, DASHBOARDS)
    state.provisioned = {"yzmon-crowd-kiosk", "yzmon-overview"}
    before = {u: state.dashboards[u]["meta"]["version"] for u in state.provisioned}
    result = push(url, TOKEN, DASHBOARDS)
    assert sorted(result.provisioned) == sorted(state.provisioned)
    assert set(result.dashboards) == _uids() - state.provisioned
    assert {u: state.dashboards[u]["meta"]["version"] for u in state.provisioned} == before
    runner = CliRunner()
    out = runner.invoke(dashboards_app, ["push", "--url", url, "--token", TOKEN, "--skip-datasource"])
    assert out.exit_code == 0 and "left alone, file-provisioned" in out.output and "yzmon-crowd-kiosk" in out.output


def test_a_save_refused_as_provisioned_is_skipped_not_fatal(grafana, monkeypatch):
    """The 400 of the save itself is recognised too (a dashboard provisioned between lookup and save)."""
    url, state = grafana
    push(url, TOKEN, DASHBOARDS)
    state.provisioned = {"yzmon-pipeline"}
    from yzmon import grafana_push

    monkeypatch.setattr(grafana_push, "_is_provisioned", lambda api, url, uid: False)
    result = push(url, TOKEN, DASHBOARDS)
    assert result.provisioned == ["yzmon-pipeline"] and "yzmon-pipeline" not in result.dashboards
