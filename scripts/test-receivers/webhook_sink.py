"""A webhook receiver for the tests: records every request and checks its X-Posture-Signature
on its own (Python's hmac, not the server's code), so a test can read what arrived.

- POST (or any other method) to any path but the two below: recorded as
  {method, path, headers, body, received_at, signature_valid} (path with its query string,
  header names in lower case, body as text); answers 200 {"ok":true}, except
  /status/<code> (that code), /hang (200 after 30 s), /slow/... (200 after 0.2 s) and
  /redirect (302 to /ok).
- PUT /_secrets/<path>: the body is the secret for requests to /<path> (no query string);
  --secret-for PATH=SECRET (repeatable) sets them at start.
- GET /_received: every record in arrival order (JSON); DELETE /_received clears them.

signature_valid is null when no secret for the path is known or the request has no
X-Posture-Signature header; else true or false. The header is `t=<unix seconds>,v1=<hex>`,
v1 being HMAC-SHA256, keyed with the secret's UTF-8 bytes, of b"<t>." + the raw body.
Only the signature is checked, not how old t is.

    python3 webhook_sink.py --port 2527 [--secret-for /hook=s3cret ...]
"""
import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlsplit

RECEIVED = []
SECRETS = {}
LOCK = threading.Lock()


def signature_valid(path, header, body):
    with LOCK:
        secret = SECRETS.get(path)
    if secret is None or header is None:
        return None
    fields = {}
    for part in header.split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields.setdefault(name, value)
    t, v1 = fields.get("t"), fields.get("v1")
    if not t or not v1:
        return False
    expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, v1.lower())


class Sink(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def answer(self, code, body=b'{"ok":true}', headers=()):
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def read_body(self):
        if "chunked" in self.headers.get("transfer-encoding", "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def route(self):
        return urlsplit(self.path).path

    def record(self):
        body = self.read_body()
        route = self.route()
        entry = {
            "method": self.command,
            "path": self.path,
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body.decode("utf-8", "replace"),
            "received_at": time.time(),
            "signature_valid": signature_valid(route, self.headers.get("x-posture-signature"), body),
        }
        with LOCK:
            RECEIVED.append(entry)
        if route.startswith("/status/"):
            try:
                code = int(route[len("/status/"):])
                if not 100 <= code <= 599:
                    raise ValueError
            except ValueError:
                return self.answer(400, b'{"error":"/status/<100..599>"}')
            self.answer(code, b'{"error":"as asked"}' if code >= 400 else b'{"ok":true}')
        elif route == "/hang":
            time.sleep(30)
            self.answer(200)
        elif route.startswith("/slow/"):
            time.sleep(0.2)
            self.answer(200)
        elif route == "/redirect":
            self.answer(302, b"", [("location", "/ok")])
        else:
            self.answer(200)

    def do_POST(self):
        self.record()

    def do_PUT(self):
        route = self.route()
        if not route.startswith("/_secrets/"):
            return self.record()
        secret = self.read_body().decode()
        with LOCK:
            SECRETS["/" + unquote(route[len("/_secrets/"):])] = secret
        self.answer(204, b"")

    def do_GET(self):
        if self.route() != "/_received":
            return self.record()
        with LOCK:
            body = json.dumps(RECEIVED).encode()
        self.answer(200, body)

    def do_DELETE(self):
        if self.route() != "/_received":
            return self.record()
        with LOCK:
            RECEIVED.clear()
        self.answer(204, b"")

    do_PATCH = do_POST

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, default=2527)
    parser.add_argument("--secret-for", action="append", default=[], metavar="PATH=SECRET",
                        help="the secret for signatures of requests to PATH (repeatable)")
    args = parser.parse_args()
    for item in args.secret_for:
        path, sep, secret = item.partition("=")
        if not sep or not path:
            parser.error("--secret-for takes PATH=SECRET")
        SECRETS["/" + path.lstrip("/")] = secret
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Sink)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
