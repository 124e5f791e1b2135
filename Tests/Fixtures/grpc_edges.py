#!/usr/bin/python3
"""Protocol edges of crisp's gRPC server, seen by clients that are not crisp's code: Python grpcio for calls,
and a raw HTTP/2 connection (python3-h2) for what grpcio never sends.

Usage: grpc_edges.py SOCKET STUB_DIRECTORY            -> one JSON object of observations
       grpc_edges.py SOCKET STUB_DIRECTORY shutdown PID -> opens an event stream, SIGTERMs PID, reports how it ended
"""
import json
import os
import signal
import socket as sockets
import struct
import sys
import threading
import time

path, stubs = sys.argv[1:3]
sys.path.insert(0, stubs)
import grpc  # noqa: E402
from runtime.v1 import api_pb2 as api, api_pb2_grpc as rpc  # noqa: E402
from admin.v1 import admin_pb2 as admin, admin_pb2_grpc as admin_rpc  # noqa: E402

channel = grpc.insecure_channel("unix://" + path, options=[("grpc.max_send_message_length", 64 << 20)])
runtime = rpc.RuntimeServiceStub(channel)
seen = {}


def outcome(call):
    """(code name, details) of a call made by `call`, ("OK", "") when it succeeds."""
    try:
        call()
        return ["OK", ""]
    except grpc.RpcError as error:
        return [error.code().name, error.details() or ""]


if sys.argv[3:4] == ["shutdown"]:
    stream = runtime.GetContainerEvents(api.GetEventsRequest())
    time.sleep(0.3)
    start = time.monotonic()
    os.kill(int(sys.argv[4]), signal.SIGTERM)
    seen["events"] = outcome(lambda: list(stream))
    seen["seconds"] = time.monotonic() - start
    print(json.dumps(seen))
    sys.exit(0)

seen["unknownMethod"] = outcome(lambda: channel.unary_unary("/runtime.v1.RuntimeService/NoSuchCall")(b""))
seen["unknownService"] = outcome(lambda: channel.unary_unary("/nope.v1.Nothing/Call")(b""))
seen["undecodable"] = outcome(lambda: channel.unary_unary("/runtime.v1.RuntimeService/Version")(b"\xff\xff\xff"))
seen["compressed"] = outcome(lambda: runtime.Version(api.VersionRequest(version="v" * 4096), compression=grpc.Compression.Gzip))
huge = api.ListContainersRequest(filter=api.ContainerFilter(label_selector={"k": "x" * (17 << 20)}))
seen["oversized"] = outcome(lambda: runtime.ListContainers(huge))

# Many calls at once on one connection.
futures = [runtime.Version.future(api.VersionRequest()) for _ in range(300)]
seen["concurrentOK"] = sum(1 for future in futures if future.exception() is None and future.result().runtime_name == "crisp")

# Many calls in a row on one connection.
sequential = 0
for _ in range(300):
    if outcome(lambda: runtime.Version(api.VersionRequest()))[0] == "OK":
        sequential += 1
seen["sequentialOK"] = sequential

# A client-streaming upload far larger than any window: flow control must let all of it through.
chunk = b"\0" * (1 << 20)
importer = admin_rpc.AdminServiceStub(channel)
seen["bigImport"] = outcome(lambda: importer.ImportImages(admin.ImportImagesRequest(data=chunk) for _ in range(40)))

# A cancelled stream leaves the connection and the daemon serving.
events = runtime.GetContainerEvents(api.GetEventsRequest())
threading.Timer(0.2, events.cancel).start()
seen["cancelled"] = outcome(lambda: list(events))
seen["afterCancel"] = outcome(lambda: runtime.Version(api.VersionRequest()))

# Raw HTTP/2, for requests grpcio never makes.
import h2.config  # noqa: E402
import h2.connection  # noqa: E402
import h2.events  # noqa: E402


class Raw:
    def __init__(self):
        self.sock = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
        self.sock.connect(path)
        self.conn = h2.connection.H2Connection(config=h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()

    def flush(self):
        self.sock.sendall(self.conn.data_to_send())

    def request(self, method="POST", content_type="application/grpc", path="/runtime.v1.RuntimeService/Version",
                body=None, end=True, extra=()):
        stream = self.conn.get_next_available_stream_id()
        headers = [(":method", method), (":scheme", "http"), (":path", path), (":authority", "localhost"),
                   ("content-type", content_type), ("te", "trailers")] + list(extra)
        self.conn.send_headers(stream, headers, end_stream=(body is None and end))
        if body is not None:
            self.conn.send_data(stream, body, end_stream=end)
        self.flush()
        return stream

    def answer(self, stream, timeout=5.0):
        """The headers and trailers of `stream`, merged, and whether it was reset."""
        fields, reset = {}, False
        self.sock.settimeout(timeout)
        while True:
            data = self.sock.recv(65536)
            if not data:
                break
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.DataReceived):
                    self.conn.acknowledge_received_data(event.flow_controlled_length, event.stream_id)
                if getattr(event, "stream_id", None) != stream:
                    continue
                if isinstance(event, (h2.events.ResponseReceived, h2.events.TrailersReceived)):
                    fields.update(dict(event.headers))
                if isinstance(event, h2.events.StreamReset):
                    reset = True
                if isinstance(event, (h2.events.StreamEnded, h2.events.StreamReset)):
                    self.flush()
                    return fields, reset
            self.flush()
        return fields, reset


def message(payload):
    return struct.pack(">BI", 0, len(payload)) + payload


raw = Raw()
fields, _ = raw.answer(raw.request(content_type="application/json", body=b"{}"))
seen["wrongContentType"] = fields.get(":status")
fields, _ = raw.answer(raw.request(content_type="application/grpc-web", body=message(b"")))
seen["grpcWeb"] = fields.get(":status")
fields, _ = raw.answer(raw.request(method="GET"))
seen["getMethod"] = fields.get(":status")
fields, _ = raw.answer(raw.request())
seen["noMessage"] = [fields.get("grpc-status"), fields.get("grpc-message", "")]
fields, _ = raw.answer(raw.request(body=message(b"") + message(b"")))
seen["twoMessages"] = [fields.get("grpc-status"), fields.get("grpc-message", "")]
fields, _ = raw.answer(raw.request(body=struct.pack(">BI", 0, 10) + b"abc"))
seen["truncated"] = [fields.get("grpc-status"), fields.get("grpc-message", "")]
start = time.monotonic()
fields, _ = raw.answer(raw.request(path="/runtime.v1.RuntimeService/GetContainerEvents", body=message(b""),
                                   extra=[("grpc-timeout", "300m")]))
seen["serverDeadline"] = [fields.get("grpc-status"), time.monotonic() - start]
# A reset mid-call, then another call on the same connection.
stream = raw.request(path="/runtime.v1.RuntimeService/GetContainerEvents", body=message(b""))
raw.conn.reset_stream(stream)
raw.flush()
fields, _ = raw.answer(raw.request(body=message(b"")))
seen["afterReset"] = [fields.get(":status"), fields.get("grpc-status")]

# grpc-go (kubelet's client) sends a BDP PING after each answer that carries data, one at a time: hundreds a
# minute from a busy kubelet. The connection must take them, as grpc-go's own server does.
acked = 0
for number in range(400):
    if raw.conn.state_machine.state == h2.connection.ConnectionState.CLOSED:
        break  # the server sent GOAWAY
    raw.conn.ping(struct.pack(">Q", number))
    raw.flush()
    got = False
    while not got and raw.conn.state_machine.state != h2.connection.ConnectionState.CLOSED:
        data = raw.sock.recv(65536)
        if not data:
            break
        for event in raw.conn.receive_data(data):
            if isinstance(event, h2.events.PingAckReceived):
                got = True
        raw.flush()
    if not got:
        break
    acked += 1
seen["pingsAcked"] = acked
if raw.conn.state_machine.state != h2.connection.ConnectionState.CLOSED:
    fields, _ = raw.answer(raw.request(body=message(b"")))
    seen["afterPings"] = [fields.get(":status"), fields.get("grpc-status")]

# A peer that does not speak HTTP/2 is disconnected, not left holding a socket.
plain = sockets.socket(sockets.AF_UNIX, sockets.SOCK_STREAM)
plain.connect(path)
plain.settimeout(5)
plain.sendall(b"GET / HTTP/1.1\r\nHost: crisp\r\n\r\n")
try:
    while plain.recv(65536):
        pass
    seen["notHTTP2Closed"] = True
except OSError:
    seen["notHTTP2Closed"] = False
print(json.dumps(seen))
