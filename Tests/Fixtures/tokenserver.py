#!/usr/bin/env python3
"""A registry token issuer for crisp's Bearer-auth tests (the distribution registry's token auth).

Usage: tokenserver.py PORT KEY.pem CERT.pem ISSUER USERNAME PASSWORD
Issues RS256 JWTs carrying the signing certificate in `x5c`, which the registry checks against its
rootcertbundle. Requests with the right Basic credentials (GET) or refresh token (POST grant_type=refresh_token,
refresh_token=<PASSWORD>) get pull access to the requested repository; anonymous requests get a token with no
access. Every request is logged to stdout as one JSON line.
"""
import base64
import http.server
import json
import subprocess
import sys
import time
import urllib.parse

PORT, KEY, CERT, ISSUER, USERNAME, PASSWORD = sys.argv[1:7]


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def certificate_der():
    return subprocess.run(["openssl", "x509", "-in", CERT, "-outform", "DER"], stdout=subprocess.PIPE, check=True).stdout


DER = certificate_der()


def sign(payload):
    header = {"typ": "JWT", "alg": "RS256", "x5c": [base64.b64encode(DER).decode()]}
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}".encode()
    signature = subprocess.run(["openssl", "dgst", "-sha256", "-sign", KEY], input=signing_input,
                               stdout=subprocess.PIPE, check=True).stdout
    return f"{signing_input.decode()}.{b64(signature)}"


class Handler(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def respond(self, params, authorized, how):
        scope = params.get("scope", [""])[0]
        service = params.get("service", [""])[0]
        access = []
        if authorized and scope.startswith("repository:"):
            _, name, actions = scope.split(":", 2)
            access.append({"type": "repository", "name": name, "actions": actions.split(",")})
        now = int(time.time())
        token = sign({"iss": ISSUER, "sub": USERNAME if authorized else "", "aud": service, "exp": now + 300,
                      "nbf": now - 10, "iat": now, "jti": str(time.time_ns()), "access": access})
        print(json.dumps({"method": self.command, "how": how, "authorized": authorized, "scope": scope}), flush=True)
        body = json.dumps({"token": token, "access_token": token, "expires_in": 300}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        params = urllib.parse.parse_qs(urllib.parse.urlparse(self.path).query)
        expected = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        header = self.headers.get("Authorization")
        if header and header != expected:
            self.send_response(401)
            self.end_headers()
            print(json.dumps({"method": "GET", "how": "basic", "authorized": False, "rejected": True}), flush=True)
            return
        self.respond(params, header == expected, "basic" if header else "anonymous")

    def do_POST(self):
        length = int(self.headers.get("Content-Length", "0"))
        params = urllib.parse.parse_qs(self.rfile.read(length).decode())
        ok = params.get("grant_type") == ["refresh_token"] and params.get("refresh_token") == [PASSWORD]
        self.respond(params, ok, "refresh_token")


http.server.ThreadingHTTPServer(("127.0.0.1", int(PORT)), Handler).serve_forever()
