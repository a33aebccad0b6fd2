"""The ClickHouse HTTP interface in front of the real ClickHouse engine (chdb), for tests.

Usage: clickhouse_http.py PORT DATA_DIR [--user NAME] [--password SECRET]
(PORT 0 picks a free port; the first line printed names the address.)

Speaks what clients use of https://clickhouse.com/docs/interfaces/http:
- the query in the `query` URL parameter, with the request body as its data (INSERT),
  or the whole query in the body;
- `database` (parameter or `X-ClickHouse-Database` header), `default_format`;
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
import re
import sys
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
FORMAT_CLAUSE = re.compile(r"\bFORMAT\s+\w+\s*$", re.IGNORECASE)


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

        text = body.decode("utf-8", errors="replace")
        query = params.get("query")
        if query is None:
            query, data = text, ""
        else:
            data = text
        query = query.strip().rstrip(";")
        if not query:
            return self.fail(62, "Code: 62. DB::Exception: Empty query. (SYNTAX_ERROR)")
        if data:
            query = f"{query}\n{data}"
        database = params.get("database") or self.headers.get("X-ClickHouse-Database")
        fmt = params.get("default_format") or "TabSeparated"
        with lock:
            try:
                if database:
                    engine.query(f"USE `{database}`")
                result = engine.query(query, fmt)
                out = result.bytes() if result is not None else b""
            except Exception as e:
                message = str(e)
                m = re.search(r"Code: (\d+)", message)
                return self.fail(int(m.group(1)) if m else 1002, message)
            finally:
                if database:
                    try:
                        engine.query("USE default")
                    except Exception:
                        pass
        self.reply(200, out, [("Content-Type", "text/plain; charset=UTF-8"), ("X-ClickHouse-Format", fmt)])

    do_GET = handle_any
    do_POST = handle_any


server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
server.serve_forever()
