#!/usr/bin/env python3
"""A registry front that demands Basic credentials and redirects blob downloads, for crisp's tests of what
a redirect may carry. Serves on 127.0.0.1 only.

Usage: redirector.py PORT OTHER_PORT UPSTREAM_PORT MODE
  PORT           the registry crisp is configured with; every request needs `Authorization: Basic
                 alice:s3cret`, else 401 with a Basic challenge. Manifests and /v2/ are relayed to UPSTREAM_PORT.
  OTHER_PORT     another server on the same host (another origin): logs the headers it got and relays.
  MODE "port":   blob GETs answer 307 to http://127.0.0.1:OTHER_PORT/<same path>
  MODE "unix":   blob GETs answer 307 to http+unix://%2Ftmp%2Fcrisp-redirect.sock/<same path>
  MODE "loop":   blob GETs answer 307 to the same origin again, forever
Each request is logged to stdout as one JSON line: {"server", "path", "authorization", "secret"}.
"""
import base64
import http.client
import http.server
import json
import sys
import threading

PORT, OTHER, UPSTREAM, MODE = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
EXPECTED = "Basic " + base64.b64encode(b"alice:s3cret").decode()
LOCK = threading.Lock()


def log(server, handler):
    with LOCK:
        print(json.dumps({"server": server, "path": handler.path,
                          "authorization": handler.headers.get("Authorization"),
                          "secret": handler.headers.get("X-Crisp-Secret")}), flush=True)


def relay(handler):
    upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM)
    upstream.putrequest(handler.command, handler.path, skip_host=True, skip_accept_encoding=True)
    for key, value in handler.headers.items():
        if key.lower() not in ("connection", "authorization"):
            upstream.putheader(key, value)
    upstream.endheaders()
    response = upstream.getresponse()
    body = response.read()
    handler.send_response(response.status)
    for key, value in response.getheaders():
        if key.lower() not in ("connection", "transfer-encoding", "content-length"):
            handler.send_header(key, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    if handler.command != "HEAD":
        handler.wfile.write(body)


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        log("front", self)
        if self.headers.get("Authorization") != EXPECTED:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="crisp-redirect"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if "/blobs/" in self.path and self.command == "GET":
            base = self.path.split("?")[0]
            if MODE == "port":
                location = "http://127.0.0.1:%d%s" % (OTHER, base)
            elif MODE == "unix":
                location = "http+unix://%%2Ftmp%%2Fcrisp-redirect.sock%s" % base
            else:
                location = "http://127.0.0.1:%d%s?again=%d" % (PORT, base, self.path.count("again") + 1)
            self.send_response(307)
            self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        relay(self)

    do_HEAD = do_GET


class Other(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        log("other", self)
        relay(self)

    do_HEAD = do_GET


other = http.server.ThreadingHTTPServer(("127.0.0.1", OTHER), Other)
threading.Thread(target=other.serve_forever, daemon=True).start()
http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Front).serve_forever()
