#!/usr/bin/python3
"""A websocket port-forward client that is not crisp's (Debian's python3-websocket): opens URL?port=PORT
with the v4 channel protocol, checks the port prefixes, sends DATA on the data channel and prints a JSON
object with what came back on the data and error channels.

usage: ws_portforward.py URL PORT DATA EXPECT   (DATA may use \r\n escapes; reading stops once EXPECT
arrives on the data channel or anything arrives on the error channel)
"""
import json
import sys

import websocket


def main():
    url, port, data, expect = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].encode()
    ws = websocket.create_connection(url.replace("http://", "ws://") + "?port=%d" % port,
                                     subprotocols=["v4.channel.k8s.io"], timeout=20)
    channels = {0: b"", 1: b""}
    prefixes = {}
    sent = False
    while True:
        try:
            opcode, frame = ws.recv_data(control_frame=False)
        except (websocket.WebSocketConnectionClosedException, websocket.WebSocketTimeoutException):
            break
        if opcode == websocket.ABNF.OPCODE_CLOSE or not frame:
            break
        channel, payload = frame[0], frame[1:]
        if channel not in prefixes:
            prefixes[channel] = int.from_bytes(payload[:2], "little")
            payload = payload[2:]
        channels[channel] = channels.get(channel, b"") + payload
        if not sent and 0 in prefixes and 1 in prefixes:
            ws.send_binary(b"\x00" + data.encode().decode("unicode_escape").encode())
            sent = True
        if channels[1] or expect in channels[0]:
            break
    print(json.dumps({"prefixes": {str(k): v for k, v in prefixes.items()},
                      "data": channels[0].decode("utf-8", "replace"),
                      "error": channels[1].decode("utf-8", "replace")}))


if __name__ == "__main__":
    main()
