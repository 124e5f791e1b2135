#!/usr/bin/env python3
"""An HTTP proxy in front of a registry that slows or stalls blob downloads, for crisp's tests of progress
timeouts and of a daemon killed mid-download.

Usage: slowproxy.py PORT UPSTREAM_PORT MODE [RATE]
MODE "slow": blob bodies are sent at RATE bytes per second; "stall": blob bodies send 1 KiB then nothing.
Everything else is relayed unchanged. Requests are logged to stdout.
"""
import http.client
import http.server
import sys
import time

PORT, UPSTREAM, MODE = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
RATE = int(sys.argv[4]) if len(sys.argv) > 4 else 1 << 20


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def relay(self):
        print(self.command, self.path, flush=True)
        upstream = http.client.HTTPConnection("127.0.0.1", UPSTREAM)
        upstream.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
        for key, value in self.headers.items():
            if key.lower() not in ("connection",):
                upstream.putheader(key, value)
        upstream.endheaders()
        response = upstream.getresponse()
        body = response.read()
        self.send_response(response.status)
        for key, value in response.getheaders():
            if key.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if "/blobs/" in self.path and self.command == "GET" and response.status == 200 and len(body) > 4096:
            if MODE == "stall":
                self.wfile.write(body[:1024])
                self.wfile.flush()
                time.sleep(3600)
                return
            chunk = max(1, RATE // 20)
            for offset in range(0, len(body), chunk):
                self.wfile.write(body[offset:offset + chunk])
                self.wfile.flush()
                time.sleep(0.05)
        else:
            self.wfile.write(body)

    do_GET = relay
    do_HEAD = relay


http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler).serve_forever()
