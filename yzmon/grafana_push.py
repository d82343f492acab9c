"""Install or update the yzmon dashboards, their folder and the ClickHouse datasource in an existing Grafana.

Uses grafana-client (Grafana's HTTP API): the folder is found by uid or, as file provisioning names it, by title,
or else created with a stable uid; the datasource is looked up by
uid and updated or created, and every ``dashboards/*.json`` is imported with ``overwrite: true`` into the folder.
Everything is keyed by uid, so running it again changes nothing but versions.

What it is not given it leaves alone, as Grafana's own API expects (grafana/grafana):
- a secret: ``secureJsonData`` carries only the keys given; Grafana keeps the stored value of every key missing
  from an update (pkg/services/datasources/service/datasource.go, ``fillWithSecureJSONData``), while a key sent
  empty replaces the stored password with an empty one;
- a file-provisioned datasource (``readOnly``): Grafana refuses any update with 403 "Cannot update read-only data
  source" (pkg/api/datasources.go, ``updateDataSourceByID``), so it is reported as provisioned, not updated;
- a file-provisioned dashboard (``meta.provisioned``): Grafana refuses saving it with 400 "Cannot save provisioned
  dashboard" (pkg/services/dashboards, ``BuildSaveDashboardCommand``); it is skipped and listed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grafana_client import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaServerError,
    GrafanaTimeoutError,
    GrafanaUnauthorizedError,
)

__all__ = ["FOLDER_UID", "PushError", "PushResult", "clickhouse_datasource", "push"]

FOLDER_UID = "yzmon"
DATASOURCE_UID = "yzmon-clickhouse"


class PushError(RuntimeError):
    """A push that could not be completed, with a message meant for the operator."""


READ_ONLY_DATASOURCE = "Cannot update read-only data source"  # pkg/api/datasources.go
PROVISIONED_DASHBOARD = "Cannot save provisioned dashboard"  # dashboards.ErrDashboardCannotSaveProvisionedDashboard


@dataclass
class PushResult:
    folder_uid: str
    folder_created: bool
    datasource: str | None  # "created" | "updated" | "provisioned" (read-only, left alone) | None (not managed)
    dashboards: list[str] = field(default_factory=list)  # uids imported, in import order
    provisioned: list[str] = field(default_factory=list)  # uids left alone: file-provisioned in that Grafana


def clickhouse_datasource(
    url: str, user: str, password: str | None = None, database: str = "yzmon", uid: str = DATASOURCE_UID
) -> dict[str, Any]:
    """The grafana-clickhouse-datasource definition for a ClickHouse HTTP(S) URL such as http://clickhouse:8123.

    Without ``password`` no ``secureJsonData`` is sent: an update keeps the password Grafana has stored."""
    from urllib.parse import urlparse

    parsed = urlparse(url if "://" in url else f"http://{url}")
    secure = parsed.scheme in ("https", "tls")
    protocol = "native" if parsed.scheme in ("tcp", "native", "tls") else "http"
    port = parsed.port or ((9440 if secure else 9000) if protocol == "native" else (8443 if secure else 8123))
    return {
        "uid": uid,
        "name": "ClickHouse (yzmon)",
        "type": "grafana-clickhouse-datasource",
        "access": "proxy",
        "isDefault": False,
        "editable": True,
        "jsonData": {
            "host": parsed.hostname,
            "port": port,
            "protocol": protocol,
            "secure": secure,
            "username": user,
            "defaultDatabase": database,
        },
        **({"secureJsonData": {"password": password}} if password is not None else {}),
    }


def _message(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict) and response.get("message"):
        return str(response["message"])
    return str(getattr(exc, "message", "") or exc)


def _explain(exc: Exception, url: str, what: str) -> PushError:
    if READ_ONLY_DATASOURCE in _message(exc) or PROVISIONED_DASHBOARD in _message(exc):
        return PushError(
            f"Grafana at {url} refused {what}: {_message(exc)}. It is file-provisioned there (deploy/grafana/"
            "provisioning): change it in the provisioning files, or leave it out of the push (--skip-datasource)."
        )
    if isinstance(exc, GrafanaUnauthorizedError) or getattr(exc, "status_code", None) in (401, 403):
        code = getattr(exc, "status_code", 401)
        hint = (
            "the token is missing, wrong or expired"
            if code == 401
            else "the token lacks permission (it needs the Admin or Editor role for folders, "
            "dashboards and datasources)"
        )
        return PushError(
            f"Grafana at {url} refused the request ({code}) while {what}: {hint}. "
            "Create a service-account token with the Admin role and pass it with --token."
        )
    if isinstance(exc, GrafanaTimeoutError) or getattr(exc, "status_code", None) == 0:
        return PushError(f"cannot reach Grafana at {url} while {what}: {exc}. Is the URL right and the server up?")
    if isinstance(exc, GrafanaServerError | GrafanaClientError | GrafanaException):
        return PushError(
            f"Grafana at {url} answered {getattr(exc, 'status_code', '?')} while {what}: {getattr(exc, 'message', exc)}"
        )
    return PushError(f"cannot reach Grafana at {url} while {what}: {exc}. Is the URL right and the server up?")


def _call(url: str, what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except GrafanaException as exc:
        raise _explain(exc, url, what) from exc
    except OSError as exc:  # connection refused, DNS, TLS from the HTTP library
        raise _explain(exc, url, what) from exc
    except Exception as exc:  # the HTTP library's own connection errors (requests/niquests)
        if type(exc).__name__ in (
            "ConnectionError",
            "ConnectTimeout",
            "ReadTimeout",
            "SSLError",
            "InvalidURL",
            "MissingSchema",
            "InvalidSchema",
        ):
            raise _explain(exc, url, what) from exc
        raise


def _status(exc: GrafanaException) -> int | None:
    return getattr(exc, "status_code", None)


def load_dashboards(dashboards_dir: Path | str) -> list[dict[str, Any]]:
    paths = sorted(Path(dashboards_dir).glob("*.json"))
    if not paths:
        raise PushError(f"no dashboards found in {dashboards_dir} (expected *.json)")
    boards = []
    for path in paths:
        try:
            board = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise PushError(f"{path}: not a dashboard JSON file ({exc})") from exc
        if not board.get("uid"):
            raise PushError(f"{path}: the dashboard has no uid; pushes are idempotent by uid")
        boards.append(board)
    return boards


def _folder(api: GrafanaApi, url: str, title: str, uid: str) -> tuple[str, bool]:
    """The folder's uid, and True when it was created: by uid, else a top-level folder of that title (file
    provisioning names folders by title, so a provisioned Grafana has one with another uid), else a new one."""
    try:
        existing = api.folder.get_folder(uid)
    except GrafanaException as exc:
        if _status(exc) != 404:
            raise _explain(exc, url, f"looking up folder {uid}") from exc
        existing = None
    except OSError as exc:
        raise _explain(exc, url, f"looking up folder {uid}") from exc
    if existing:
        if existing.get("title") != title:
            _call(url, f"renaming folder {uid}", api.folder.update_folder, uid, title=title, overwrite=True)
        return uid, False
    folders = _call(url, "listing folders", api.folder.get_all_folders) or []
    same = [f for f in folders if f.get("title") == title]
    if same:
        return same[0]["uid"], False
    _call(url, f"creating folder {title!r}", api.folder.create_folder, title, uid=uid)
    return uid, True


def _datasource(api: GrafanaApi, url: str, datasource: dict[str, Any]) -> str:
    uid = datasource.get("uid")
    if not uid:
        raise PushError("the datasource definition needs a uid (dashboards refer to it by uid)")
    try:
        existing = api.datasource.get_datasource_by_uid(uid)
    except GrafanaException as exc:
        if _status(exc) != 404:
            raise _explain(exc, url, f"looking up datasource {uid}") from exc
        _call(url, f"creating datasource {uid}", api.datasource.create_datasource, datasource)
        return "created"
    if isinstance(existing, dict) and existing.get("readOnly"):
        return "provisioned"
    try:
        api.datasource.update_datasource_by_uid(uid, datasource)
    except GrafanaException as exc:
        if _status(exc) == 403 and READ_ONLY_DATASOURCE in _message(exc):
            return "provisioned"
        raise _explain(exc, url, f"updating datasource {uid}") from exc
    return "updated"


def _is_provisioned(api: GrafanaApi, url: str, uid: str) -> bool:
    """True when the dashboard exists in that Grafana and comes from its provisioning files."""
    try:
        found = api.dashboard.get_dashboard(uid)
    except GrafanaException as exc:
        if _status(exc) == 404:
            return False
        raise _explain(exc, url, f"looking up dashboard {uid}") from exc
    except OSError as exc:
        raise _explain(exc, url, f"looking up dashboard {uid}") from exc
    return bool(isinstance(found, dict) and found.get("meta", {}).get("provisioned"))


def push(
    url: str,
    token: str,
    dashboards_dir: Path | str,
    folder_title: str = "渝中商圈监测",
    datasource: dict[str, Any] | None = None,
    folder_uid: str = FOLDER_UID,
    timeout: float = 10.0,
) -> PushResult:
    """Create or update the folder, the datasource (when given) and every dashboard in ``dashboards_dir``."""
    if not token:
        raise PushError("a Grafana API token is required (a service-account token with the Admin role)")
    boards = load_dashboards(dashboards_dir)
    try:
        api = GrafanaApi.from_url(url, credential=token, timeout=timeout)
    except (ValueError, TypeError) as exc:
        raise PushError(f"not a Grafana URL: {url!r} ({exc})") from exc
    folder_uid, created = _folder(api, url, folder_title, folder_uid)
    ds_state = _datasource(api, url, datasource) if datasource is not None else None
    result = PushResult(folder_uid=folder_uid, folder_created=created, datasource=ds_state)
    for board in boards:
        uid = board["uid"]
        if _is_provisioned(api, url, uid):
            result.provisioned.append(uid)
            continue
        payload = {k: v for k, v in board.items() if k != "id"}  # the uid identifies it; ids are per instance
        body = {"dashboard": payload, "folderUid": folder_uid, "overwrite": True, "message": "yzmon dashboards push"}
        try:
            api.dashboard.update_dashboard(body)
        except GrafanaException as exc:
            if _status(exc) == 400 and PROVISIONED_DASHBOARD in _message(exc):
                result.provisioned.append(uid)
                continue
            raise _explain(exc, url, f"importing dashboard {uid}") from exc
        except OSError as exc:
            raise _explain(exc, url, f"importing dashboard {uid}") from exc
        result.dashboards.append(uid)
    return result
