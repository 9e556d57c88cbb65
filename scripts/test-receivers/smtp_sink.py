"""An SMTP server for the tests: accepts every mail on loopback and keeps it, so a test can
read what arrived over HTTP.

- SMTP on --smtp-port (127.0.0.1, no TLS). AUTH PLAIN and LOGIN are offered without TLS and
  any credentials pass, unless --require-auth USER:PASS: then only those pass (others get
  535) and MAIL without AUTH gets 530.
- HTTP on --http-port: GET /messages, a JSON list of
  {mail_from, rcpt_tos, subject, body, message_id, auth_login, received_at} in arrival order
  (body: the text/plain part, else the text/html one, decoded, with LF line ends;
  auth_login: the user name the client authenticated as, or null; received_at: unix seconds,
  a float); DELETE /messages clears the list.

    python3 smtp_sink.py --smtp-port 2525 --http-port 2526 [--require-auth user:pass]

Needs aiosmtpd 1.4 or later (PyPI's, or Debian's python3-aiosmtpd); the rest is stdlib.
"""
import argparse
import json
import logging
import threading
import time
import warnings
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

MESSAGES = []
LOCK = threading.Lock()


def text_of(mail):
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    try:
        text = part.get_content()
    except (LookupError, ValueError):  # an unknown charset or a broken encoding
        text = part.get_payload(decode=True).decode("utf-8", "replace")
    return text.replace("\r\n", "\n")


class Keep:
    async def handle_DATA(self, server, session, envelope):
        mail = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        login = getattr(getattr(session, "auth_data", None), "login", None)
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "subject": str(mail.get("subject", "")),
            "body": text_of(mail),
            "message_id": str(mail.get("message-id", "")),
            "auth_login": login.decode("utf-8", "replace") if isinstance(login, bytes) else login,
            "received_at": time.time(),
        }
        with LOCK:
            MESSAGES.append(record)
        return "250 Message accepted for delivery"


def authenticator_for(required):
    """Any credentials pass when `required` is None, else only that (user, password)."""

    def authenticate(server, session, envelope, mechanism, auth_data):
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        if required is None or (auth_data.login, auth_data.password) == required:
            return AuthResult(success=True, auth_data=auth_data)
        return AuthResult(success=False, handled=False)  # aiosmtpd answers 535

    return authenticate


class Messages(BaseHTTPRequestHandler):
    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        if urlsplit(self.path).path != "/messages":
            return self.answer(404, b'{"error":"GET /messages only"}')
        with LOCK:
            body = json.dumps(MESSAGES).encode()
        self.answer(200, body)

    def do_DELETE(self):
        if urlsplit(self.path).path != "/messages":
            return self.answer(404, b'{"error":"DELETE /messages only"}')
        with LOCK:
            MESSAGES.clear()
        self.answer(204)

    def log_message(self, *args):
        pass


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smtp-port", type=int, default=2525)
    parser.add_argument("--http-port", type=int, default=2526)
    parser.add_argument("--require-auth", metavar="USER:PASS",
                        help="accept only these credentials, and no mail without AUTH")
    args = parser.parse_args()
    required = None
    if args.require_auth is not None:
        if ":" not in args.require_auth:
            parser.error("--require-auth takes USER:PASS")
        user, password = args.require_auth.split(":", 1)
        required = (user.encode(), password.encode())

    # No TLS is the point here: quiet aiosmtpd's warnings about AUTH without it.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    http = ThreadingHTTPServer(("127.0.0.1", args.http_port), Messages)
    http.daemon_threads = True
    controller = Controller(
        Keep(),
        hostname="127.0.0.1",
        port=args.smtp_port,
        authenticator=authenticator_for(required),
        auth_require_tls=False,
        auth_required=required is not None,
    )
    controller.start()
    try:
        http.serve_forever()
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
