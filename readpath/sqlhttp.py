"""ClickHouse's HTTP interface, read-only, served by the worker that owns the embedded store.

What clients of a ClickHouse server rely on: the query in the URL (``query=``) or the body;
``default_format`` and ``FORMAT``; ``database``; settings as URL parameters (vetted by
`readpath.readguard`); bound parameters ``param_<name>``; ``GET /ping`` → ``Ok.``; the
``X-ClickHouse-*`` response headers (summary, format, timezone, query id, exception code); gzip or
deflate when ``enable_http_compression=1`` and the client accepts it; ClickHouse-style error bodies
and status codes; ``Native`` at the ``client_protocol_version`` a client asks for (clickhouse-go,
hence Grafana's plugin); results streamed in blocks, with a mid-stream error written as
ClickHouse's tagged exception block.

It runs an aiohttp server on its own thread and event loop, on its own port
(``YZMON_SQL_HOST``:``YZMON_SQL_PORT``, default 127.0.0.1:8123): query traffic never competes with
the Faust consumer's event loop, and the interface's bind and users are independent of the
worker's control endpoints. Users: ``default`` without a password for loopback callers, as on a
fresh ClickHouse server; ``reader`` and ``analyst`` with passwords from the settings, the only users
when bound beyond loopback. Callers are checked first (`readpath.callers`: Host, Origin, browser
headers, the wrong-password throttle); every wait on the engine watches the client, and a read
whose client goes away is stopped.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
import secrets
import string
import threading
import uuid
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from readpath.callers import CallerRules, Throttle, is_loopback
from readpath.native import NativeRewriter, UnsupportedType
from readpath.readengine import EngineError, ReadEngine, ReadSession
from readpath.refusal import Refused
from readpath.urlsettings import TRANSPORT_PARAMS, output_format, vet_settings, vet_transport
from yzcore.readlimits import hint
from yzcore.settings import Settings

log = logging.getLogger(__name__)

COMMIT_BYTES = 1 << 20  # a result this small is answered whole, with its status known
QUEUE_CHUNKS = 4
URI_MAX_BYTES = 1 << 20
HEADER_MAX_BYTES = 1 << 16
_STATUS = {
    62: 400, 27: 400, 36: 400, 456: 400, 457: 400, 6: 400, 26: 400, 69: 400, 38: 400, 41: 400, 43: 400,
    72: 400, 70: 400, 53: 400, 440: 400, 213: 400, 190: 400, 318: 400, 475: 400, 44: 400, 42: 400, 35: 400, 16: 404,
    47: 404, 60: 404, 46: 404, 81: 404, 73: 400, 115: 400,
    164: 403, 497: 403, 516: 403, 192: 403, 193: 403, 194: 401,
    202: 503, 48: 501, 159: 500, 241: 500, 158: 500, 307: 500, 396: 500, 394: 500,
}  # fmt: skip
_CONTENT_TYPES = {
    "JSON": "application/json; charset=UTF-8",
    "CSV": "text/csv; charset=UTF-8; header=absent",
    "CSVWithNames": "text/csv; charset=UTF-8; header=present",
    "TabSeparated": "text/tab-separated-values; charset=UTF-8",
    "TSV": "text/tab-separated-values; charset=UTF-8",
    "XML": "application/xml; charset=UTF-8",
}
_BINARY = ("Native", "RowBinary", "Arrow", "Parquet", "ORC", "Avro", "Protobuf", "MsgPack", "BSONEachRow")
_OK = b"Ok.\n"
_PREFLIGHT = {
    "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
    "Access-Control-Allow-Headers": "Authorization, Content-Type, X-ClickHouse-User, X-ClickHouse-Key, "
    "X-ClickHouse-Format, X-ClickHouse-Database",
    "Access-Control-Max-Age": "86400",
}


def content_type(fmt: str) -> str:
    if fmt in _CONTENT_TYPES:
        return _CONTENT_TYPES[fmt]
    if fmt.startswith(_BINARY):
        return "application/octet-stream"
    if fmt.startswith("JSON"):
        return "application/json; charset=UTF-8"
    if fmt.startswith(("TabSeparated", "TSV")):
        return "text/tab-separated-values; charset=UTF-8"
    return "text/plain; charset=UTF-8"


DISPLAY_NAME = "yzmon"  # X-ClickHouse-Server-Display-Name: the service, never the machine's host name


@dataclass
class Users:
    """Who may read: name → password (None: no password)."""

    passwords: dict[str, str | None]

    @classmethod
    def from_settings(cls, settings: Settings) -> Users:
        users: dict[str, str | None] = {}
        if is_loopback(settings.sql_host):
            users["default"] = None
        for name, secret in (("reader", settings.sql_reader_password), ("analyst", settings.sql_analyst_password)):
            if secret is not None and secret.get_secret_value():
                users[name] = secret.get_secret_value()
        if not users:
            raise ValueError(
                f"YZMON_SQL_HOST={settings.sql_host} serves the store beyond loopback: set "
                "YZMON_SQL_READER_PASSWORD and/or YZMON_SQL_ANALYST_PASSWORD (the `default` user has no password "
                "and is offered on loopback only)"
            )
        return cls(users)

    def check(self, user: str, password: str) -> bool:
        if user not in self.passwords:
            return False
        expected = self.passwords[user]
        if expected is None:
            return password == ""
        return hmac.compare_digest(expected.encode(), password.encode())


def credentials(request: web.Request) -> tuple[str, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("basic "):
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            return user or "default", password
        except (ValueError, UnicodeDecodeError):
            return "", ""
    if "X-ClickHouse-User" in request.headers:
        return request.headers["X-ClickHouse-User"], request.headers.get("X-ClickHouse-Key", "")
    return request.query.get("user", "default"), request.query.get("password", "")


class SqlHttpServer:
    """The interface: start() binds it on its own thread; stop() closes it."""

    def __init__(self, settings: Settings, store_path: str):
        self.settings = settings
        self.users = Users.from_settings(settings)
        self.engine = ReadEngine(store_path, settings)
        self.callers = CallerRules.from_settings(settings)
        self.throttle = Throttle()
        self.executor = ThreadPoolExecutor(settings.read_max_concurrent + 1, thread_name_prefix="sql-read")
        self.running = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    def start(self, timeout_s: float = 30.0) -> None:
        self.engine.start()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._bind())
            except BaseException as exc:  # noqa: BLE001 - reported to start()
                failure.append(exc)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.run_until_complete(self._runner.cleanup() if self._runner else asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=serve, name="sql-http", daemon=True)
        self._thread.start()
        if not ready.wait(timeout_s):
            raise RuntimeError("ClickHouse HTTP interface did not start")
        if failure:
            raise RuntimeError(
                f"cannot serve ClickHouse's HTTP interface on {self.settings.sql_host}:{self.settings.sql_port} "
                f"({failure[0]}); free the port or set YZMON_SQL_PORT"
            ) from failure[0]
        log.info("ClickHouse HTTP interface on http://%s:%d", self.settings.sql_host, self.settings.sql_port)

    async def _bind(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[self._callers_only])
        app.router.add_route("GET", "/ping", self.ping)
        app.router.add_route("GET", "/replicas_status", self.ping)
        app.router.add_route("*", "/", self.query)
        app.router.add_route("*", "/{tail:.*}", self.no_handle)
        self._runner = web.AppRunner(
            app,
            access_log=None,
            handler_cancellation=True,
            max_line_size=URI_MAX_BYTES,  # ClickHouse takes URIs up to http_max_uri_size (1 MiB)
            max_field_size=HEADER_MAX_BYTES,
        )
        await self._runner.setup()
        await web.TCPSite(self._runner, self.settings.sql_host, self.settings.sql_port).start()

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.engine.close()

    # -- handlers -------------------------------------------------------------------------------
    @web.middleware
    async def _callers_only(self, request: web.Request, handler) -> web.StreamResponse:
        """Host and Origin rules on every path (`readpath.callers`)."""
        try:
            self.callers.check(request.headers)
        except Refused as exc:
            return self.error(exc, "")
        response = await handler(request)
        response.headers.update(self.callers.cors_headers(request.headers))
        return response

    async def ping(self, request: web.Request) -> web.Response:
        return web.Response(body=_OK, content_type="text/plain", charset="UTF-8")

    async def no_handle(self, request: web.Request) -> web.Response:
        text = (
            f"There is no handle {request.path}\n\nUse / or /ping for health checks.\n\n"
            "Send queries from your program with POST method or GET /?query=...\n"
        )
        return web.Response(status=404, text=text)

    def error(self, exc: Refused | EngineError, query_id: str, fmt: str = "") -> web.Response:
        message = str(exc)
        extra = hint(message, self.settings)
        body = f"{message}{' ' + extra if extra else ''} (version {self.engine.version} (yzmon))\n"
        headers = {
            "X-ClickHouse-Exception-Code": str(exc.code),
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
            "X-ClickHouse-Timezone": self.engine.timezone,
        }
        if fmt:
            headers["X-ClickHouse-Format"] = fmt
        status = exc.status or _STATUS.get(exc.code, 500)
        return web.Response(status=status, text=body, headers=headers, charset="UTF-8")

    async def query(self, request: web.Request) -> web.StreamResponse:
        if request.method == "OPTIONS":  # a browser's preflight, from an allowed origin (the others are refused)
            return web.Response(status=204, headers=_PREFLIGHT)
        query_id = request.query.get("query_id") or str(uuid.uuid4())
        if any(ord(ch) < 0x20 for ch in query_id):  # answered before the id goes into a header
            query_id = query_id.encode("unicode_escape").decode()
        user, password = credentials(request)
        address = request.remote or ""
        refused = self._authenticate(user, password, address)
        if refused is not None:
            return self.error(refused, query_id)
        params, sql = await self._read(request)
        if not sql.strip():
            if request.method in ("GET", "HEAD") and "query" not in request.query:
                return web.Response(body=_OK, content_type="text/plain", charset="UTF-8")
            return self.error(Refused(62, "SYNTAX_ERROR", "Empty query", 400), query_id)
        binds = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        requested = {k: v for k, v in params.items() if k not in TRANSPORT_PARAMS and not k.startswith("param_")}
        try:
            if params.get("compress", "0") not in ("0", "false"):
                raise Refused(48, "NOT_IMPLEMENTED", "compress=1 (ClickHouse block compression) is not offered; "
                              "use enable_http_compression=1 with Accept-Encoding: gzip", 501)  # fmt: skip
            transport = vet_transport(params, self.engine.catalog)
            if "X-ClickHouse-Format" in request.headers and "default_format" not in transport:
                transport["default_format"] = output_format(request.headers["X-ClickHouse-Format"], self.engine.catalog)
            url_settings = vet_settings(requested, self.settings, self.engine.catalog)
        except Refused as exc:
            return self.error(exc, query_id)
        if self.running >= self.settings.read_max_concurrent:
            return self.error(
                Refused(
                    202,
                    "TOO_MANY_SIMULTANEOUS_QUERIES",
                    f"Too many simultaneous queries: {self.running} are running, the read path's limit is "
                    f"{self.settings.read_max_concurrent} (YZMON_READ_MAX_CONCURRENT); try again shortly",
                    503,
                ),
                query_id,
            )
        self.running += 1
        owner = hashlib.sha256(f"{user}\0{address}".encode()).hexdigest()[:16]
        try:
            return await self._run(request, query_id, sql, binds, url_settings, {**params, **transport}, owner)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as exc:  # a fault of this interface still answers as ClickHouse would
            log.exception("read %s failed", query_id)
            return self.error(EngineError(1001, "STD_EXCEPTION", f"Code: 1001. DB::Exception: {exc!r}"), query_id)
        finally:
            self.running -= 1

    def _authenticate(self, user: str, password: str, address: str) -> Refused | None:
        """None when the caller may read; the refusal otherwise. Passwords are throttled per client address
        (`readpath.callers.Throttle`); the password-less ``default`` user is offered to loopback callers only."""
        if user in self.users.passwords and self.users.passwords[user] is None:
            if is_loopback(address) and password == "":
                return None
            return Refused(
                516,
                "AUTHENTICATION_FAILED",
                f"{user[:60]}: Authentication failed: the password-less user is offered to local callers only",
            )
        wait = self.throttle.wait_s(address)
        if wait > 0:
            return Refused(
                516,
                "AUTHENTICATION_FAILED",
                f"{user[:60]}: Authentication failed: too many wrong passwords from {address}; "
                f"try again in {wait:.0f} s",
            )
        if not self.users.check(user, password):
            self.throttle.failed(address)
            return Refused(
                516,
                "AUTHENTICATION_FAILED",
                f"{user[:60]}: Authentication failed: password is incorrect, or there is no user with such name",
            )
        self.throttle.succeeded(address)
        return None

    async def _read(self, request: web.Request) -> tuple[dict[str, str], str]:
        params = {k: v for k, v in request.query.items()}
        sql = params.get("query", "")
        if request.method == "POST":
            if request.content_type == "multipart/form-data":  # curl --data-binary sends the form type: a body
                form = await request.post()
                for key, value in form.items():
                    text = value if isinstance(value, str) else value.file.read().decode()
                    if key == "query":
                        sql = f"{sql}\n{text}" if sql else text
                    else:
                        params[key] = text
            else:
                body = (await request.read()).decode("utf-8", "replace")
                if body:
                    sql = f"{sql}\n{body}" if sql else body
        return params, sql

    async def _run(
        self,
        request: web.Request,
        query_id: str,
        sql: str,
        binds: dict[str, str],
        url_settings: dict[str, str],
        params: dict[str, str],
        owner: str,
    ) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        tag = uuid.uuid4().hex
        database = params.get("database") or request.headers.get("X-ClickHouse-Database")
        fmt = params.get("default_format") or "TabSeparated"
        try:
            session: ReadSession = await self._engine(
                request, tag, owner, self.engine.open, url_settings, database, tag, owner
            )
        except (Refused, EngineError) as exc:
            return self.error(exc, query_id)
        queue: asyncio.Queue = asyncio.Queue(QUEUE_CHUNKS)
        stop = threading.Event()
        try:
            try:
                statement, in_query = await self._engine(request, tag, owner, session.prepare, sql, binds)
                fmt = output_format(in_query, self.engine.catalog) if in_query else fmt
            except (Refused, EngineError) as exc:
                return self.error(exc, query_id)
            revision = int(params.get("client_protocol_version", "0")) if fmt == "Native" else 0
            types = await self._engine(request, tag, owner, session.column_types, statement, binds) if revision else []
            producer = loop.run_in_executor(
                self.executor, self._produce, session, statement, fmt, binds, queue, stop, loop
            )
            try:
                return await self._respond(request, query_id, fmt, (revision, types), session, queue, params)
            finally:
                stop.set()
                if not producer.done():  # the client went away, or the answer ended early: stop the query
                    await loop.run_in_executor(None, self.engine.kill, tag, owner)
                while not producer.done():
                    try:
                        queue.get_nowait()
                    except asyncio.QueueEmpty:
                        await asyncio.sleep(0.01)
        finally:
            await loop.run_in_executor(None, session.close)

    async def _engine(self, request: web.Request, tag: str, owner: str, call: Callable[..., Any], *args: Any) -> Any:
        """``call(*args)`` on a read thread, watching the client meanwhile: when it goes away, the read tagged
        ``tag`` is stopped (so a session open, a parse or a type lookup never holds a slot for nobody)."""
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.executor, call, *args)
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=0.25)
                if done:
                    return future.result()
                transport = request.transport
                if transport is None or transport.is_closing():
                    raise ConnectionResetError("the client went away")
        except (ConnectionResetError, asyncio.CancelledError):  # gone (aiohttp cancels the handler of a lost client)
            await asyncio.shield(loop.run_in_executor(None, self.engine.kill, tag, owner))
            await asyncio.shield(asyncio.wait({future}, timeout=30))  # the session is closed only once it is idle
            if future.done() and not future.cancelled() and future.exception() is None:
                result = future.result()
                if isinstance(result, ReadSession):  # opened for a client that is gone
                    await loop.run_in_executor(None, result.close)
            raise

    def _produce(
        self,
        session: ReadSession,
        sql: str,
        fmt: str,
        binds: dict[str, str],
        queue: asyncio.Queue,
        stop: threading.Event,
        loop: asyncio.AbstractEventLoop,
    ) -> None:
        """Run the query on an executor thread, handing chunks to the event loop (at most a few ahead)."""

        def put(item: object) -> bool:
            while not stop.is_set():
                future = asyncio.run_coroutine_threadsafe(asyncio.wait_for(queue.put(item), 0.5), loop)
                try:
                    future.result()
                    return True
                except TimeoutError:
                    continue
            return False

        try:
            for chunk in session.stream(sql, fmt, binds):
                if not put(chunk):
                    return
            put(None)
        except (Refused, EngineError) as exc:
            put(exc)
        except Exception as exc:  # noqa: BLE001 - reported to the client as an engine error
            put(EngineError.wrap(exc))

    async def _next(self, request: web.Request, queue: asyncio.Queue) -> object:
        """The next chunk, watching for a client that has gone away meanwhile."""
        while True:
            try:
                return await asyncio.wait_for(queue.get(), 0.25)
            except TimeoutError:
                transport = request.transport
                if transport is None or transport.is_closing():
                    raise ConnectionResetError("the client went away") from None

    async def _respond(
        self,
        request: web.Request,
        query_id: str,
        fmt: str,
        native: tuple[int, list[str]],
        session: ReadSession,
        queue: asyncio.Queue,
        params: dict[str, str],
    ) -> web.StreamResponse:
        rewriter = NativeRewriter(*native) if native[0] > 0 else None
        encoder = self._encoder(request, params)
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Format": fmt,
            "X-ClickHouse-Timezone": self.engine.timezone,
            "X-ClickHouse-Server-Display-Name": DISPLAY_NAME,
            "Content-Type": content_type(fmt),
        }
        if encoder is not None:
            headers["Content-Encoding"] = encoder[0]
        buffered: list[bytes] = []
        size = 0
        response: web.StreamResponse | None = None
        while True:
            item = await self._next(request, queue)
            if isinstance(item, (Refused, EngineError)):
                if response is None:
                    return self.error(item, query_id, fmt)
                await self._write_exception(response, item, encoder)
                return response
            if item is None:
                break
            data = bytes(item)  # type: ignore[arg-type]
            if rewriter is not None:
                try:
                    data = rewriter.feed(data)
                except UnsupportedType as exc:
                    error = Refused(48, "NOT_IMPLEMENTED", f"Native at client_protocol_version for type {exc}", 501)
                    if response is None:
                        return self.error(error, query_id, fmt)
                    await self._write_exception(response, error, encoder)
                    return response
            if response is None:
                buffered.append(data)
                size += len(data)
                if size < COMMIT_BYTES:
                    continue
                headers["X-ClickHouse-Summary"] = json.dumps(session.stats.summary())
                headers["X-ClickHouse-Exception-Tag"] = self._tag()
                response = web.StreamResponse(headers=headers)
                response.enable_chunked_encoding()
                await response.prepare(request)
                data = b"".join(buffered)
                buffered = []
            await response.write(encoder[1].compress(data) if encoder else data)
        if response is None:
            body = b"".join(buffered)
            headers["X-ClickHouse-Summary"] = json.dumps(session.stats.summary())
            if encoder is not None:
                body = encoder[1].compress(body) + encoder[1].flush()
            return web.Response(body=body, headers=headers)
        if encoder is not None:
            await response.write(encoder[1].flush())
        await response.write_eof()
        return response

    @staticmethod
    def _tag() -> str:
        return "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))

    async def _write_exception(self, response: web.StreamResponse, exc: Refused | EngineError, encoder) -> None:
        tag = response.headers["X-ClickHouse-Exception-Tag"]
        message = f"{exc} {hint(str(exc), self.settings)}".strip() + f" (version {self.engine.version} (yzmon))"
        block = f"\r\n__exception__\r\n{tag}\r\n{message}\n{len(message)} {tag}\r\n__exception__\r\n".encode()
        if encoder is not None:
            block = encoder[1].compress(block) + encoder[1].flush()
        await response.write(block)
        await response.write_eof()

    @staticmethod
    def _encoder(request: web.Request, params: dict[str, str]) -> tuple[str, object] | None:
        if params.get("enable_http_compression", "0") not in ("1", "true"):
            return None
        accepted = [e.split(";")[0].strip().lower() for e in request.headers.get("Accept-Encoding", "").split(",")]
        level = int(params.get("http_zlib_compression_level", "3"))
        for name in accepted:
            if name == "gzip":
                return name, zlib.compressobj(level, zlib.DEFLATED, 31)
            if name == "deflate":
                return name, zlib.compressobj(level, zlib.DEFLATED, 15)
        return None
