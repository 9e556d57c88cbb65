"""An SMTP server for the tests: accepts every mail on loopback and keeps it, so a test can
read what arrived over HTTP (GET /messages, a JSON list; DELETE /messages clears it).

    python3 smtp_sink.py --smtp-port 2525 --http-port 2526
"""
import argparse
import asyncio
import json
import threading
import time
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from aiosmtpd.controller import Controller

MESSAGES = []
LOCK = threading.Lock()


class Keep:
    async def handle_DATA(self, server, session, envelope):
        mail = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        part = mail.get_body(preferencelist=("plain", "html"))
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(mail.get("subject", "")),
            "message_id": str(mail.get("message-id", "")),
            "body": part.get_content() if part is not None else "",
            "received_at": time.time(),
        }
        with LOCK:
            MESSAGES.append(record)
        return "250 Message accepted for delivery"


class Messages(BaseHTTPRequestHandler):
    def do_GET(self):
        with LOCK:
            body = json.dumps(MESSAGES).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_DELETE(self):
        with LOCK:
            MESSAGES.clear()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--http-port", type=int, default=2526)
    args = parser.parse_args()
    controller = Controller(Keep(), hostname="127.0.0.1", port=args.smtp_port)
    controller.start()
    http = ThreadingHTTPServer(("127.0.0.1", args.http_port), Messages)
    try:
        http.serve_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
