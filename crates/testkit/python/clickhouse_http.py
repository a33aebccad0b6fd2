"""The ClickHouse HTTP interface in front of the real ClickHouse engine (chdb), for tests.

Usage: clickhouse_http.py PORT DATA_DIR [--user NAME] [--password SECRET]
(PORT 0 picks a free port; the first line printed names the address.)

Speaks what clients use of https://clickhouse.com/docs/interfaces/http:
- the query in the `query` URL parameter, with the request body as its data (INSERT),
  or the whole query in the body, an INSERT's data after its `FORMAT` clause; data of
  any format, binary ones (`Native`, `RowBinary`) included; chunked request bodies;
- `database` (parameter or `X-ClickHouse-Database` header), `default_format`, query
  parameters (`param_<name>` for `{name:Type}`), and any other URL parameter as a
  setting of that query;
- credentials as `X-ClickHouse-User` / `X-ClickHouse-Key` headers, `user` / `password`
  parameters, or HTTP basic auth;
- gzip (and deflate) request bodies (`Content-Encoding`);
- `GET /ping` -> `Ok.`;
- errors: HTTP 500 with `X-ClickHouse-Exception-Code` and the engine's message
  (`Code: N. DB::Exception: ...`); wrong credentials: code 516, HTTP 401.
One engine session serves every request, one request at a time.
"""

import base64
import gzip
import os
import re
import sys
import tempfile
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

from chdb import session as chs

port = int(sys.argv[1])
data_dir = sys.argv[2]
args = sys.argv[3:]
user = args[args.index("--user") + 1] if "--user" in args else "default"
password = args[args.index("--password") + 1] if "--password" in args else ""

engine = chs.Session(data_dir)
lock = threading.Lock()
# An INSERT whose data follows it: its target, optional SETTINGS and the format name.
INSERT_HEAD = re.compile(
    rb"\s*(?P<head>INSERT\s+INTO\s+.*?)(?:\s+(?P<settings>SETTINGS\s+.*?))?\s+FORMAT\s+(?P<fmt>\w+)[ \t]*(?:\r?\n)?",
    re.IGNORECASE | re.DOTALL,
)
# URL parameters of the HTTP interface that are not settings.
NOT_SETTINGS = {
    "query", "database", "default_format", "user", "password", "query_id", "session_id",
    "session_timeout", "session_check", "compress", "decompress", "quota_key", "buffer_size",
    "wait_end_of_query", "enable_http_compression", "send_progress_in_http_headers",
    "http_headers_progress_interval_ms", "client_protocol_version", "role",
}
SETTING_VALUE = re.compile(r"^[\w.+-]*$")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *_):
        pass

    def reply(self, status, body, headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def fail(self, code, message, status=500):
        self.reply(
            status,
            (message.rstrip("\n") + "\n").encode(),
            [("X-ClickHouse-Exception-Code", str(code)), ("Content-Type", "text/plain; charset=UTF-8")],
        )

    def handle_any(self):
        url = urlparse(self.path)
        params = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                body += self.rfile.read(size)
                self.rfile.readline()
        else:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
        if url.path == "/ping" and not params:
            return self.reply(200, b"Ok.\n")
        encoding = (self.headers.get("Content-Encoding") or "").lower()
        try:
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding == "deflate":
                body = zlib.decompress(body)
            elif encoding not in ("", "identity"):
                return self.fail(2, f"Code: 2. DB::Exception: Unknown Content-Encoding {encoding}.")
        except Exception as e:  # a corrupt body
            return self.fail(27, f"Code: 27. DB::Exception: cannot decompress the body: {e}.")

        who = self.headers.get("X-ClickHouse-User") or params.get("user")
        key = self.headers.get("X-ClickHouse-Key") or params.get("password")
        basic = self.headers.get("Authorization", "")
        if basic.lower().startswith("basic "):
            try:
                who, _, key = base64.b64decode(basic[6:]).decode().partition(":")
            except Exception:
                who, key = "", ""
        if (who or "default") != user or (key or "") != password:
            return self.fail(516, f"Code: 516. DB::Exception: {who or 'default'}: Authentication failed: password is incorrect, or there is no user with such name. (AUTHENTICATION_FAILED)", 401)

        query = params.get("query")
        if query is None:
            query, data = body, b""
            head = INSERT_HEAD.match(body)
            if head:
                query, data = body[: head.end()], body[head.end() :]
        else:
            query, data = query.encode(), body
        query = query.decode("utf-8", errors="replace").strip().rstrip(";")
        if not query:
            return self.fail(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
        settings = []
        for k, v in params.items():
            if k in NOT_SETTINGS or k.startswith("param_"):
                continue
            if not re.match(r"^\w+$", k) or not SETTING_VALUE.match(v):
                return self.fail(115, f"Code: 115. DB::Exception: Unknown setting {k}. (UNKNOWN_SETTING)")
            settings.append(f"{k} = {v if re.match(r'^-?[0-9.]+$', v) else repr(v)}")
        query_params = {k[6:]: v for k, v in params.items() if k.startswith("param_")}
        infile = None
        if data:
            # The data goes through a file, so binary formats arrive intact.
            head = INSERT_HEAD.match((query + "\n").encode())
            if not head:
                return self.fail(62, "Code: 62. DB::Exception: data sent with a query that is not an INSERT ... FORMAT. (SYNTAX_ERROR)")
            fd, infile = tempfile.mkstemp(suffix=".data")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            own = head.group("settings")
            query = (
                f"{head.group('head').decode()} FROM INFILE '{infile}'"
                + (f" {own.decode()}" if own else "")
                + (", " + ", ".join(settings) if own and settings else (" SETTINGS " + ", ".join(settings) if settings else ""))
                + f" FORMAT {head.group('fmt').decode()}"
            )
        database = params.get("database") or self.headers.get("X-ClickHouse-Database")
        fmt = params.get("default_format") or "TabSeparated"
        with lock:
            changed = []
            try:
                if database:
                    engine.query(f"USE `{database}`")
                if not data:
                    for s in settings:
                        name = s.split(" = ")[0]
                        old = engine.query(f"SELECT value FROM system.settings WHERE name = '{name}'", "TSVRaw").bytes().decode().strip()
                        engine.query(f"SET {s}")
                        changed.append((name, old))
                result = engine.query(query, fmt, params=query_params) if query_params else engine.query(query, fmt)
                out = result.bytes() if result is not None else b""
            except Exception as e:
                message = str(e)
                m = re.search(r"Code: (\d+)", message)
                return self.fail(int(m.group(1)) if m else 1002, message)
            finally:
                for name, old in changed:
                    try:
                        engine.query(f"SET {name} = {old!r}")
                    except Exception:
                        pass
                if database:
                    try:
                        engine.query("USE default")
                    except Exception:
                        pass
                if infile:
                    os.unlink(infile)
        self.reply(200, out, [("Content-Type", "text/plain; charset=UTF-8"), ("X-ClickHouse-Format", fmt)])

    do_GET = handle_any
    do_POST = handle_any


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
