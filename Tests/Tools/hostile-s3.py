#!/usr/bin/env python3
"""An S3 endpoint that answers as a hostile or broken server would, on loopback, for
HostileS3Tests. The bucket (first path component) chooses the behaviour:

  loop      listings always truncated, always with the same continuation token
  notoken   listings truncated without a token
  many      one listing page of MANY keys (argv[2], default 50000)
  slow      GET trickle: Content-Length 100000, one byte every 0.2 s
            GET liar: Content-Length 1000000000, ten bytes, then silence
            GET chunky: a 1 MiB body in one-byte chunks (chunked encoding)
  racing    a conditional PUT (If-None-Match: *) meets a concurrent one: the first PUT of
            a key is answered 409 ConditionalRequestConflict; the next stores it; a PUT of a
            key stored already is 412 PreconditionFailed; GET and HEAD serve what is stored;
            GET of a key ending in 'bent' sends other bytes than its x-amz-checksum-sha256
  anything else: 403 AccessDenied whose Message holds a newline, a forged log line and
            an ANSI escape sequence

Usage: hostile-s3.py PORT [MANY]"""
import http.server, sys, threading, time

PORT = int(sys.argv[1])
MANY = int(sys.argv[2]) if len(sys.argv) > 2 else 50000
STORED = {}
ATTEMPTS = {}
LOCK = threading.Lock()
EVIL = "denied\n2026-12-07T00:00:00Z info forged line job=nightly\x1b[31m red"


def listing(keys, truncated, token):
    parts = ["<?xml version=\"1.0\" encoding=\"UTF-8\"?><ListBucketResult><Name>b</Name><Prefix></Prefix>"]
    parts.append("<IsTruncated>%s</IsTruncated>" % ("true" if truncated else "false"))
    if token:
        parts.append("<NextContinuationToken>%s</NextContinuationToken>" % token)
    for k in keys:
        parts.append("<Contents><Key>%s</Key><Size>1</Size></Contents>" % k)
    parts.append("</ListBucketResult>")
    return "".join(parts).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, ctype="application/xml"):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        path, _, query = self.path.partition("?")
        parts = path.strip("/").split("/", 1)
        bucket, key = parts[0], (parts[1] if len(parts) > 1 else "")
        if bucket == "racing" and key.endswith("bent") and self.command == "GET":
            import base64, hashlib
            self.send_response(200)
            self.send_header("x-amz-checksum-sha256", base64.b64encode(hashlib.sha256(b"original").digest()).decode())
            self.send_header("Content-Length", "7"); self.end_headers(); self.wfile.write(b"changed")
            return
        if bucket == "racing":
            with LOCK:
                if self.command == "PUT":
                    if key in STORED:
                        return self.reply(412, b"<Error><Code>PreconditionFailed</Code><Message>At least one of the pre-conditions you specified did not hold</Message></Error>")
                    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
                    if ATTEMPTS[key] == 1:
                        return self.reply(409, b"<Error><Code>ConditionalRequestConflict</Code><Message>A conflicting conditional operation is currently in progress against this resource.</Message></Error>")
                    STORED[key] = data
                    return self.reply(200, b"")
                if key in STORED and self.command in ("GET", "HEAD"):
                    body = STORED[key]
                    self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
                    if self.command == "GET":
                        self.wfile.write(body)
                    return
                if self.command in ("GET", "HEAD"):
                    if self.command == "HEAD":
                        self.send_response(404); self.send_header("Content-Length", "0"); self.end_headers(); return
                    return self.reply(404, b"<Error><Code>NoSuchKey</Code><Message>no such key</Message></Error>")
        listing_request = "list-type=2" in query
        if bucket == "loop" and listing_request:
            return self.reply(200, listing(["snapshots/a"], True, "same-token"))
        if bucket == "notoken" and listing_request:
            return self.reply(200, listing(["snapshots/a"], True, None))
        if bucket == "many" and listing_request:
            return self.reply(200, listing(["snapshots/%040x" % i for i in range(MANY)], False, None))
        if bucket == "slow" and key == "trickle":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            try:
                for _ in range(100000):
                    self.wfile.write(b"x"); self.wfile.flush(); time.sleep(0.2)
            except Exception:
                pass
            return
        if bucket == "slow" and key == "liar":
            self.send_response(200)
            self.send_header("Content-Length", "1000000000")
            self.end_headers()
            self.wfile.write(b"0123456789"); self.wfile.flush()
            time.sleep(120)
            return
        if bucket == "slow" and key == "chunky":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"1\r\nx\r\n" * (1 << 20) + b"0\r\n\r\n")
            return
        body = ("<?xml version=\"1.0\"?><Error><Code>AccessDenied</Code><Message>%s</Message></Error>" % EVIL).encode()
        if self.command == "HEAD":
            self.send_response(403); self.send_header("Content-Length", "0"); self.end_headers(); return
        self.reply(403, body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
