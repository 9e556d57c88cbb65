"""A webhook receiver for the tests: records every POST and checks its X-Posture-Signature
on its own (Python's hmac, not the server's code), so a test can read what arrived.

- POST any path: recorded as {path, headers, body, received_at, signature_valid}; answers
  200, except /status/<code> (that code), /hang (after 30 s) and /redirect (302 to /ok).
- PUT /_secrets/<path>: the key to check signatures of POSTs to /<path> with.
- GET /_received: every record (JSON); DELETE /_received clears them.

signature_valid is true or false when a key for the path is known and the header is there,
else null. The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>." + raw body>`.

    python3 webhook_sink.py --port 2527
"""
import argparse
import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

RECEIVED = []
SECRETS = {}
LOCK = threading.Lock()


def signature_valid(path, header, body):
    secret = SECRETS.get(path)
    if secret is None or not header:
        return None
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    if "t" not in fields or "v1" not in fields:
        return False
    expected = hmac.new(secret.encode(), fields["t"].encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields["v1"])


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
        return self.rfile.read(int(self.headers.get("content-length") or 0))

    def do_POST(self):
        body = self.read_body()
        with LOCK:
            RECEIVED.append({
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body.decode("utf-8", "replace"),
                "received_at": time.time(),
                "signature_valid": signature_valid(self.path, self.headers.get("x-posture-signature"), body),
            })
        if self.path.startswith("/status/"):
            code = int(self.path.rsplit("/", 1)[1])
            self.answer(code, b'{"error":"as asked"}')
        elif self.path == "/hang":
            time.sleep(30)
            self.answer(200)
        elif self.path == "/redirect":
            self.answer(302, b"", [("location", "/ok")])
        else:
            self.answer(200)

    def do_PUT(self):
        body = self.read_body()
        if not self.path.startswith("/_secrets/"):
            return self.answer(404, b'{"error":"PUT /_secrets/<path> only"}')
        with LOCK:
            SECRETS[self.path[len("/_secrets"):]] = body.decode()
        self.answer(204, b"")

    def do_GET(self):
        if self.path != "/_received":
            return self.answer(404, b'{"error":"GET /_received only"}')
        with LOCK:
            body = json.dumps(RECEIVED).encode()
        self.answer(200, body)

    def do_DELETE(self):
        with LOCK:
            RECEIVED.clear()
        self.answer(204, b"")

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=2527)
    args = parser.parse_args()
    ThreadingHTTPServer(("127.0.0.1", args.port), Sink).serve_forever()


if __name__ == "__main__":
    main()
