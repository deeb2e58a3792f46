#!/usr/bin/env python3
"""A provbus delivery connector in standard-library Python.

provbus deliver POSTs each event of a handler topic here (docs/deliver.md).
This connector:

* checks the bearer token and the Standard Webhooks signature
  (webhook-id, webhook-timestamp, webhook-signature) and refuses stale
  timestamps, so a captured request cannot be replayed later;
* is idempotent on webhook-id (= event_id, the same on every retry and
  redrive): a repeat is answered 200 without provisioning twice;
* answers as NSPS connectors do: 202 when provisioned, 422 when the event
  can never be provisioned (provbus records it failed, or blocks the key),
  503 with Retry-After when the target system is unavailable (provbus
  retries on its schedule).

Replace provision() with the call to your HSS, PCRF, IPTV or CRM.

    PROVBUS_SIGNING_SECRET=whsec_... PROVBUS_BEARER_TOKEN=... \
        python3 connector.py --listen 127.0.0.1:9000
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOLERANCE_SECONDS = 5 * 60
MAX_BODY = 1 << 20


class Unavailable(Exception):
    """The provisioning target cannot be reached now: provbus retries."""


class Rejected(Exception):
    """The event can never be provisioned as it is: provbus fails it."""


def signing_key(secret):
    """The HMAC key of a "whsec_<base64>" secret."""
    if not secret.startswith("whsec_"):
        raise ValueError('signing secret must start with "whsec_"')
    return base64.b64decode(secret[len("whsec_"):])


def sign(key, msg_id, timestamp, body):
    """Standard Webhooks v1 signature of one request."""
    signed = msg_id.encode() + b"." + str(timestamp).encode() + b"." + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def verify(key, headers, body, now=None):
    """Raises ValueError unless one v1 signature matches and the timestamp is fresh."""
    msg_id = headers.get("webhook-id") or ""
    ts = headers.get("webhook-timestamp") or ""
    if not msg_id or not ts.isdigit():
        raise ValueError("missing webhook-id or webhook-timestamp")
    now = time.time() if now is None else now
    if abs(now - int(ts)) > TOLERANCE_SECONDS:
        raise ValueError("webhook-timestamp outside the tolerance")
    want = sign(key, msg_id, int(ts), body)
    for candidate in (headers.get("webhook-signature") or "").split():
        if hmac.compare_digest(candidate, want):
            return
    raise ValueError("no matching signature")


class Seen:
    """webhook-ids already provisioned. Kept in memory here; a real
    connector keeps them where its own writes go (a table with a unique
    key), for at least provbus's retry window (30 days by default)."""

    def __init__(self):
        self._ids = set()
        self._lock = threading.Lock()

    def __contains__(self, msg_id):
        with self._lock:
            return msg_id in self._ids

    def add(self, msg_id):
        with self._lock:
            self._ids.add(msg_id)


def provision(event):
    """Replace with the call to your target. Raise Unavailable for a
    temporary failure, Rejected for one retrying cannot fix."""
    if not event.get("event_type"):
        raise Rejected("no event_type")
    if event.get("attributes", {}).get("connector_test") == "unavailable":
        raise Unavailable("target down (test)")
    if event.get("attributes", {}).get("connector_test") == "reject":
        raise Rejected("rejected (test)")


def make_handler(key, token, seen):
    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status, doc, retry_after=None):
            body = json.dumps(doc).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            if retry_after:
                self.send_header("Retry-After", str(retry_after))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                return self._answer(413, {"error": "body too large"})
            body = self.rfile.read(length)
            if token and not hmac.compare_digest(self.headers.get("Authorization") or "", "Bearer " + token):
                return self._answer(401, {"error": "bad bearer token"})
            if key is not None:
                try:
                    verify(key, self.headers, body)
                except ValueError as e:
                    return self._answer(401, {"error": str(e)})
            msg_id = self.headers.get("webhook-id")
            if msg_id in seen:
                return self._answer(200, {"status": "duplicate", "event_id": msg_id})
            try:
                event = json.loads(body)
            except ValueError:
                return self._answer(422, {"error": "body is not JSON"})
            try:
                provision(event)
            except Unavailable as e:
                return self._answer(503, {"error": str(e)}, retry_after=30)
            except Rejected as e:
                return self._answer(422, {"error": str(e), "event_id": msg_id})
            seen.add(msg_id)
            self._answer(202, {"status": "provisioned", "event_id": msg_id})

        def log_message(self, fmt, *args):
            sys.stderr.write("connector: " + fmt % args + "\n")

    return Handler


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--listen", default="127.0.0.1:9000")
    p.add_argument("--sign", nargs=4, metavar=("SECRET", "ID", "TIMESTAMP", "BODY"),
                   help="print the signature of one request and exit (for tests)")
    args = p.parse_args()
    if args.sign:
        secret, msg_id, ts, body = args.sign
        print(sign(signing_key(secret), msg_id, int(ts), body.encode()))
        return
    secret = os.environ.get("PROVBUS_SIGNING_SECRET", "")
    token = os.environ.get("PROVBUS_BEARER_TOKEN", "")
    if not secret and not token:
        sys.exit("connector: set PROVBUS_SIGNING_SECRET and/or PROVBUS_BEARER_TOKEN: refusing to accept unauthenticated events")
    key = signing_key(secret) if secret else None
    host, port = args.listen.rsplit(":", 1)
    server = ThreadingHTTPServer((host, int(port)), make_handler(key, token, Seen()))
    print("connector listening on http://%s:%d" % server.server_address[:2], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
