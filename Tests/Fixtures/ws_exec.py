#!/usr/bin/python3
"""A websocket exec client that is not crisp's: the websocket-client library (Debian's python3-websocket)
speaking the Kubernetes channel protocol. Prints one JSON object: the subprotocol the server chose, the
bytes of each channel, and whether the server closed the connection.

usage: ws_exec.py URL SUBPROTOCOL [STDIN_LINE]   (the line is sent with a newline)
"""
import base64
import json
import ssl
import sys

import websocket


def main():
    url, subprotocol = sys.argv[1], sys.argv[2]
    stdin_text = sys.argv[3] + "\n" if len(sys.argv) > 3 else None
    # https URLs (streaming.tls_cert_file) become wss; the test's self-signed certificate is not verified.
    target = url.replace("https://", "wss://").replace("http://", "ws://")
    ws = websocket.create_connection(target, subprotocols=[subprotocol], timeout=20, sslopt={"cert_reqs": ssl.CERT_NONE})
    chosen = ws.getheaders().get("sec-websocket-protocol")
    encoded = "base64" in subprotocol
    if stdin_text is not None:
        if encoded:
            ws.send("0" + base64.b64encode(stdin_text.encode()).decode())
        else:
            ws.send_binary(b"\x00" + stdin_text.encode())
        if subprotocol.startswith("v5."):
            ws.send_binary(b"\xff\x00")
    channels = {}
    closed = False
    while True:
        try:
            opcode, data = ws.recv_data(control_frame=False)
        except websocket.WebSocketConnectionClosedException:
            closed = True
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            closed = True
            break
        if not data:
            continue
        if encoded:
            channel = data[0] - ord("0")
            payload = base64.b64decode(data[1:])
        else:
            channel = data[0]
            payload = data[1:]
        channels.setdefault(str(channel), b"")
        channels[str(channel)] += payload
    print(json.dumps({
        "protocol": chosen,
        "closed": closed,
        "channels": {k: v.decode("utf-8", "replace") for k, v in channels.items()},
    }))


if __name__ == "__main__":
    main()
