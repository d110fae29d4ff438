#!/usr/bin/env python3
"""Generic HTTP SMS provider for huifang's integration tests (standard library only; see README.md).

POST /send with JSON or form body {"to", "text", ...} -> 200 {"code":0,"msgid":"h<N>"}.
Prints `READY <port>` once listening and logs one JSON line per request to --log.
"""
import argparse
import json
import signal
import threading
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("--host", default="127.0.0.1")
p.add_argument("--port", type=int, default=0, help="0 = any free port")
p.add_argument("--log", help="JSON lines file")
p.add_argument("--token", help="require Authorization: Bearer TOKEN")
p.add_argument("--throttle-every", type=int, default=0, help="every Nth POST /send gets 429, Retry-After: 1")
p.add_argument("--fail", action="append", default=[], help='"to" starting with this gets 200 {"code":17}')
args = p.parse_args()

lock = threading.Lock()
state = {"requests": 0, "accepted": 0}
records = []
log_file = open(args.log, "a", encoding="utf-8") if args.log else None


def log(obj):
    line = json.dumps(obj, ensure_ascii=False)
    with lock:
        records.append(obj)
        if log_file:
            log_file.write(line + "\n")
            log_file.flush()


def parse_body(raw, content_type):
    text = raw.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        return {k: v[0] if len(v) == 1 else v for k, v in parse_qs(text, keep_blank_values=True).items()}
    try:
        return json.loads(text) if text else {}
    except ValueError:
        return {"_raw": text}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):  # keep stderr quiet
        pass

    def reply(self, status, obj, headers=()):
        data = json.dumps(obj, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        return status, obj

    def do_GET(self):
        if self.path == "/health":
            return self.reply(200, {"ok": True})
        if self.path == "/requests":
            with lock:
                return self.reply(200, list(records))
        self.reply(404, {"code": 404, "msg": "not found"})

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        url = urlsplit(self.path)
        body = parse_body(raw, self.headers.get("Content-Type", ""))
        status, resp = self.handle_send(url.path, body)
        log({"ts": datetime.now(timezone.utc).isoformat(), "method": "POST", "path": url.path,
             "query": {k: v[0] for k, v in parse_qs(url.query).items()},
             "headers": {k.lower(): v for k, v in self.headers.items()},
             "body": body, "status": status, "response": resp})

    def handle_send(self, path, body):
        if path != "/send":
            return self.reply(404, {"code": 404, "msg": "not found"})
        if args.token and self.headers.get("Authorization") != f"Bearer {args.token}":
            return self.reply(401, {"code": 401, "msg": "unauthorized"})
        with lock:
            state["requests"] += 1
            throttled = args.throttle_every and state["requests"] % args.throttle_every == 0
        if throttled:
            return self.reply(429, {"code": 429}, [("Retry-After", "1")])
        to = str(body.get("to", "")) if isinstance(body, dict) else ""
        if not to:
            return self.reply(400, {"code": 400, "msg": "missing to"})
        if any(to.startswith(f) for f in args.fail):
            return self.reply(200, {"code": 17, "msg": "invalid number"})
        with lock:
            state["accepted"] += 1
            msgid = f"h{state['accepted']}"
        return self.reply(200, {"code": 0, "msgid": msgid})


server = ThreadingHTTPServer((args.host, args.port), Handler)
server.daemon_threads = True
for sig in (signal.SIGTERM, signal.SIGINT):
    signal.signal(sig, lambda *_: threading.Thread(target=server.shutdown).start())
print(f"READY {server.server_address[1]}", flush=True)
server.serve_forever(poll_interval=0.1)
server.server_close()
