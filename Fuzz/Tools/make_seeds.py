#!/usr/bin/env python3
"""Writes the seed corpora under Fuzz/corpus/<target>/: small, real inputs of each decoder, made with the
tools that make them in the wild (python's tarfile, gzip, the zstd CLI, zlib with the SPDY dictionary) or
taken from crisp's own docs. Run from the repository root; the output is committed, so this only needs to
run again to change the seeds."""
import gzip
import hashlib
import io
import json
import os
import re
import struct
import subprocess
import tarfile
import zlib

OUT = "Fuzz/corpus"


def put(target, name, data):
    os.makedirs(os.path.join(OUT, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(OUT, target, name), "wb") as f:
        f.write(data)


def sha(data):
    return hashlib.sha256(data).hexdigest()


# ---- tar: PAX (xattrs, long names, mtime fractions), GNU long names, ustar, a global PAX header ----
def tar_bytes(fmt, entries, pax_headers=None):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt, pax_headers=pax_headers or {}) as tar:
        for e in entries:
            info = tarfile.TarInfo(e["name"])
            info.mtime = e.get("mtime", 1700000000)
            info.mode = e.get("mode", 0o644)
            info.uid, info.gid = e.get("uid", 0), e.get("gid", 0)
            info.type = e.get("type", tarfile.REGTYPE)
            info.linkname = e.get("link", "")
            if "pax" in e:
                info.pax_headers = e["pax"]
            data = e.get("data", b"")
            info.size = len(data) if info.type == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(data) if info.type == tarfile.REGTYPE else None)
    return buf.getvalue()


layer_entries = [
    {"name": "bin", "type": tarfile.DIRTYPE, "mode": 0o755},
    {"name": "bin/sh", "data": b"#!/bin/busybox sh\n", "mode": 0o755},
    {"name": "etc", "type": tarfile.DIRTYPE, "mode": 0o755},
    {"name": "etc/passwd", "data": b"root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n"},
    {"name": "etc/.wh.old", "data": b""},
    {"name": "lib", "type": tarfile.SYMTYPE, "link": "usr/lib"},
    {"name": "etc/motd", "type": tarfile.LNKTYPE, "link": "etc/passwd"},
    {"name": "usr/bin/ping", "data": b"\x7fELF", "mode": 0o4755,
     "pax": {"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
             "mtime": "1700000000.123456789"}},
    {"name": "deep/" + "d" * 120 + "/file", "data": b"long name\n"},
    {"name": "dev/null", "type": tarfile.CHRTYPE},
    {"name": "run/fifo", "type": tarfile.FIFOTYPE},
]
pax_tar = tar_bytes(tarfile.PAX_FORMAT, layer_entries)
gnu_tar = tar_bytes(tarfile.GNU_FORMAT, [e for e in layer_entries if "pax" not in e])
ustar_tar = tar_bytes(tarfile.USTAR_FORMAT, layer_entries[:7])
global_tar = tar_bytes(tarfile.PAX_FORMAT, layer_entries[:4], pax_headers={"comment": "global header", "uid": "1000"})
put("tar", "pax.tar", pax_tar)
put("tar", "gnu.tar", gnu_tar)
put("tar", "ustar.tar", ustar_tar)
put("tar", "pax-global.tar", global_tar)
cli = subprocess.run(["tar", "--format=pax", "-cf", "-", "-C", "Fuzz/Tools", "make_seeds.py"], check=True, capture_output=True).stdout
put("tar", "gnu-tar-cli.tar", cli)

for name, data in [("pax", pax_tar), ("gnu", gnu_tar), ("ustar", ustar_tar)]:
    put("gzip", name + ".tar.gz", gzip.compress(data, mtime=0))
    put("zstd", name + ".tar.zst", subprocess.run(["zstd", "-q", "-c", "-19"], input=data, check=True, capture_output=True).stdout)
put("gzip", "two-members.tar.gz", gzip.compress(pax_tar[:1024], mtime=0) + gzip.compress(pax_tar[1024:], mtime=0))

# ---- registry documents ----
layer_gz = gzip.compress(ustar_tar, mtime=0)
config = {
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"User": "1000:1000", "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
               "Entrypoint": ["/bin/sh"], "Cmd": ["-c", "echo hi"], "WorkingDir": "/", "Labels": {"a": "b"},
               "StopSignal": "SIGTERM", "ExposedPorts": {"80/tcp": {}}, "Volumes": {"/data": {}}},
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha(ustar_tar)]},
    "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs"}],
}
config_bytes = json.dumps(config, separators=(",", ":")).encode()


def manifest(media, config_media, layer_media):
    return json.dumps({
        "schemaVersion": 2, "mediaType": media,
        "config": {"mediaType": config_media, "digest": "sha256:" + sha(config_bytes), "size": len(config_bytes)},
        "layers": [{"mediaType": layer_media, "digest": "sha256:" + sha(layer_gz), "size": len(layer_gz)}],
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }, indent=2).encode()


oci_manifest = manifest("application/vnd.oci.image.manifest.v1+json", "application/vnd.oci.image.config.v1+json",
                        "application/vnd.oci.image.layer.v1.tar+gzip")
docker_manifest = manifest("application/vnd.docker.distribution.manifest.v2+json", "application/vnd.docker.container.image.v1+json",
                           "application/vnd.docker.image.rootfs.diff.tar.gzip")


def index(media, entry_media):
    return json.dumps({
        "schemaVersion": 2, "mediaType": media,
        "manifests": [
            {"mediaType": entry_media, "digest": "sha256:" + sha(oci_manifest), "size": len(oci_manifest),
             "platform": {"architecture": "amd64", "os": "linux"}},
            {"mediaType": entry_media, "digest": "sha256:" + "1" * 64, "size": 100,
             "platform": {"architecture": "arm64", "os": "linux", "variant": "v8"}},
            {"mediaType": entry_media, "digest": "sha256:" + "2" * 64, "size": 100,
             "platform": {"architecture": "unknown", "os": "unknown"},
             "annotations": {"vnd.docker.reference.type": "attestation-manifest"}},
        ],
    }, indent=2).encode()


oci_index = index("application/vnd.oci.image.index.v1+json", "application/vnd.oci.image.manifest.v1+json")
docker_list = index("application/vnd.docker.distribution.manifest.list.v2+json", "application/vnd.docker.distribution.manifest.v2+json")
# manifest: `<Content-Type>\0<document>` or the document alone.
put("manifest", "oci-manifest.json", oci_manifest)
put("manifest", "oci-index.json", oci_index)
put("manifest", "docker-manifest", b"application/vnd.docker.distribution.manifest.v2+json\0" + docker_manifest)
put("manifest", "docker-list", b"application/vnd.docker.distribution.manifest.list.v2+json; charset=utf-8\0" + docker_list)
put("manifest", "index-no-mediatype", b"application/json\0" + json.dumps({"schemaVersion": 2, "manifests": json.loads(oci_index)["manifests"]}).encode())
put("image-config", "config.json", config_bytes)
put("image-config", "minimal.json", json.dumps({"rootfs": {"type": "layers", "diff_ids": []}}))

for i, ref in enumerate(["busybox", "busybox:1.36", "docker.io/library/busybox:latest", "localhost:5000/a/b:c",
                         "registry.k8s.io/pause:3.10@sha256:" + "a" * 64, "ghcr.io/org/app@sha256:" + "b" * 64,
                         "index.docker.io/user/img", "sha256:" + "c" * 64, "[::1]:5000/x:y"]):
    put("reference", "ref%d" % i, ref)

# ---- image archives: an OCI layout and a docker-save tar ----
def archive(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.size, info.mtime = len(data), 0
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


oci_layout_index = json.dumps({"schemaVersion": 2, "manifests": [{
    "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + sha(oci_manifest), "size": len(oci_manifest),
    "annotations": {"io.containerd.image.name": "example.com/app:v1", "org.opencontainers.image.ref.name": "v1"}}]}).encode()
put("image-archive", "oci-layout.tar", archive([
    ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", oci_layout_index),
    ("blobs/sha256/" + sha(oci_manifest), oci_manifest), ("blobs/sha256/" + sha(config_bytes), config_bytes),
    ("blobs/sha256/" + sha(layer_gz), layer_gz)]))
docker_save = json.dumps([{"Config": sha(config_bytes) + ".json", "RepoTags": ["example.com/app:v2"], "Layers": ["abc/layer.tar"]}]).encode()
put("image-archive", "docker-save.tar", archive([
    ("manifest.json", docker_save), (sha(config_bytes) + ".json", config_bytes), ("abc/layer.tar", ustar_tar),
    ("repositories", b'{"example.com/app":{"v2":"abc"}}')]))

# ---- TOML from crisp's docs: crisp config.toml, hosts.toml, containerd's config.toml ----
blocks = []
for path in ["README.md"] + sorted("docs/" + f for f in os.listdir("docs")):
    text = open(path).read()
    blocks += re.findall(r"```toml\n(.*?)```", text, re.S)
counts = {}
for block in blocks:
    if "io.containerd" in block or "plugins." in block:
        target = "containerd-toml"
    elif "[host." in block or re.search(r"^server\s*=", block, re.M):
        target = "hosts-toml"
    else:
        target = "config-toml"
    counts[target] = counts.get(target, 0) + 1
    put(target, "docs%d.toml" % counts[target], block)
# Multi-line TOML strings of crisp's config tests (the containerd configs it imports among them).
for path, target in [("Tests/ConfigTests/ConfigLoaderTests.swift", "config-toml"),
                     ("Tests/ConfigTests/ContainerdImporterTests.swift", "containerd-toml"),
                     ("Tests/ImagesTests/RegistryPullTests.swift", "hosts-toml")]:
    for i, body in enumerate(re.findall(r'"""\n(.*?)\n\s*"""', open(path).read(), re.S)):
        lines = body.split("\n")
        indent = min((len(l) - len(l.lstrip()) for l in lines if l.strip()), default=0)
        text = "\n".join(l[indent:] for l in lines) + "\n"
        if "\\(" in text:
            continue  # Swift interpolation: not TOML as written
        put(target, "test%d.toml" % i, text)

# ---- USER with /etc/passwd and /etc/group: `<USER>\0<passwd>\0<group>` ----
passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:App:/home/app:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin\n"
group = b"root:x:0:\nstaff:x:50:app\napp:x:1000:\nwheel:x:10:root,app\n"
for i, user in enumerate([b"1000", b"1000:50", b"app", b"app:staff", b"root:wheel", b"nobody"]):
    put("image-user", "user%d" % i, user + b"\0" + passwd + b"\0" + group)
put("image-user", "no-files", b"app")

# ---- OCI seccomp profiles: crisp's default allow-list, and a docker-style profile with arguments ----
allowed = re.findall(r'"([a-z0-9_]+)"', open("Sources/Runtime/SeccompDefaultProfile.swift").read().split("static let allowed")[1].split("]")[0])
put("seccomp", "default.json", json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 1,
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [{"names": allowed, "action": "SCMP_ACT_ALLOW"}]}, indent=1))
put("seccomp", "args.json", json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"],
    "syscalls": [{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}]},
                 {"names": ["mount", "umount2"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                 {"names": ["clone"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}]}]}))

# ---- CDI spec files: byte 0 bit 0 = JSON, else YAML; the shapes of crisp's CDI tests and of vendor tools ----
put("cdi-spec", "yaml-full", b"\0" + b"""cdiVersion: "0.6.0"
kind: vendor.com/device
containerEdits:
  env: [A=1]
devices:
  - name: dev0
    annotations: {a: b}
    containerEdits:
      deviceNodes:
        - {path: /dev/vendor0, hostPath: /dev/null, type: c, major: 1, minor: 3, permissions: rw, uid: 1000}
      mounts:
        - {hostPath: /tmp, containerPath: /opt/x, options: [ro, nosuid], type: bind}
      hooks:
        - {hookName: createContainer, path: /usr/bin/hook, args: [hook, --x], env: [X=1], timeout: 5}
""")
put("cdi-spec", "yaml-anchors", b"\0" + b"""cdiVersion: "0.7.0"
kind: vendor.com/a.b
containerEdits: &edits
  additionalGids: [5]
devices:
  - name: "0"
    containerEdits: *edits
  - name: gpu1
    containerEdits: {intelRdt: {closID: x}, env: ["B=2"]}
""")
put("cdi-spec", "json-minimal", b"\1" + json.dumps({"cdiVersion": "0.3.0", "kind": "vendor.com/device",
    "devices": [{"name": "dev0", "containerEdits": {"env": ["A=1"], "deviceNodes": [{"path": "/dev/null"}]}}]}).encode())
put("cdi-spec", "json-net", b"\1" + json.dumps({"cdiVersion": "1.1.0", "kind": "vendor.com/net",
    "devices": [{"name": "all", "containerEdits": {"netDevices": [{"hostInterfaceName": "eth1", "name": "net1"}]}}]}, indent=1).encode())

# ---- CNI ADD results (bridge plugin, current and old versions) ----
put("cni-result", "bridge-1.0.0.json", json.dumps({"cniVersion": "1.0.0",
    "interfaces": [{"name": "cni0", "mac": "0a:58:0a:58:00:01"}, {"name": "veth1234", "mac": "aa:bb:cc:dd:ee:ff"},
                   {"name": "eth0", "mac": "0a:58:0a:58:00:05", "sandbox": "/var/run/netns/cni-1234"}],
    "ips": [{"interface": 2, "address": "10.88.0.5/16", "gateway": "10.88.0.1"},
            {"interface": 2, "address": "fd00::5/64", "gateway": "fd00::1"}],
    "routes": [{"dst": "0.0.0.0/0"}], "dns": {"nameservers": ["10.96.0.10"], "search": ["svc.cluster.local"]}}, indent=2))
put("cni-result", "ptp-0.4.0.json", json.dumps({"cniVersion": "0.4.0", "interfaces": [{"name": "eth0", "sandbox": "/proc/1/ns/net"}],
    "ips": [{"version": "4", "interface": 0, "address": "10.1.0.2/24", "gateway": "10.1.0.1"}], "dns": {}}))
put("cni-result", "old-0.2.0.json", json.dumps({"cniVersion": "0.2.0", "ip4": {"ip": "10.2.0.3/24", "gateway": "10.2.0.1",
    "routes": [{"dst": "0.0.0.0/0"}]}, "dns": {"nameservers": ["8.8.8.8"]}}))

# ---- rtnetlink: link-dump datagrams (RTM_NEWLINK messages as the kernel lays them out, then NLMSG_DONE) ----
def nlattr(kind, value):
    data = struct.pack("<HH", 4 + len(value), kind) + value
    return data + b"\0" * (-len(data) % 4)


def nlmsg(kind, payload, flags=2, seq=1):
    data = struct.pack("<IHHII", 16 + len(payload), kind, flags, seq, 0) + payload
    return data + b"\0" * (-len(data) % 4)


def link(index, name, kind=None, peer=None, nsid=None, counters=(0, 0, 0, 0)):
    rx_bytes, tx_bytes, rx_errors, tx_errors = counters
    attrs = nlattr(3, name.encode() + b"\0")
    if peer is not None:
        attrs += nlattr(5, struct.pack("<i", peer))
    if nsid is not None:
        attrs += nlattr(37, struct.pack("<i", nsid))
    if kind is not None:
        attrs += nlattr(18 | 0x8000, nlattr(1, kind.encode() + b"\0"))
    attrs += nlattr(7, struct.pack("<24I", 1, 2, rx_bytes & 0xFFFFFFFF, tx_bytes & 0xFFFFFFFF, rx_errors, tx_errors, *([0] * 18)))
    attrs += nlattr(23, struct.pack("<6Q", 1, 2, rx_bytes, tx_bytes, rx_errors, tx_errors) + b"\0" * 152)
    return nlmsg(16, struct.pack("<BBHiII", 0, 0, 1, index, 0x1043, 0) + attrs)


put("rtnetlink", "host-veths", link(1, "lo", counters=(5000, 5000, 0, 0)) + link(2, "cni0", kind="bridge")
    + link(7, "veth1a2b3c4d", kind="veth", peer=2, nsid=0, counters=(1000, 2000, 0, 0))
    + link(8, "veth5e6f7a8b", kind="veth", peer=2, nsid=1, counters=(3000, 4000, 1, 0)) + nlmsg(3, struct.pack("<i", 0)))
put("rtnetlink", "error", nlmsg(2, struct.pack("<i", -22) + nlmsg(18, struct.pack("<BBHiII", 0, 0, 0, 0, 0, 0))[:16]))

# ---- gRPC request streams: first byte = DATA frame size - 1, then length-prefixed messages ----
def grpc(message):
    return b"\0" + struct.pack(">I", len(message)) + message


version_request = grpc(b"\x0a\x02v1")                       # VersionRequest{version: "v1"}
list_containers = grpc(b"\x0a\x0c\x1a\x0a\x0a\x03app\x12\x03web")  # ListContainersRequest with a label filter
put("grpc-frames", "one-message", b"\xff" + version_request)
put("grpc-frames", "split-messages", b"\x02" + version_request + list_containers + grpc(b""))
for i, text in enumerate(["1S", "100m", "250u", "99999999H", "5n", "2M"]):
    put("grpc-timeout", "t%d" % i, text)

# ---- SPDY/3.1: a port-forward and an exec session as client-go opens them ----
dictionary_source = open("Sources/SPDY/SPDYDictionary.swift").read()
literal = "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', dictionary_source.split("private static let text: String =")[1]))
spdy_dictionary = re.sub(r"\\u\{([0-9a-f]+)\}", lambda m: chr(int(m.group(1), 16)), literal).replace('\\"', '"').encode("latin-1")
assert len(spdy_dictionary) == 1423, len(spdy_dictionary)


def header_block(pairs):
    out = struct.pack(">I", len(pairs))
    for name, value in pairs:
        out += struct.pack(">I", len(name)) + name.encode() + struct.pack(">I", len(value)) + value.encode()
    return out


def control(kind, flags, body):
    return struct.pack(">HHB", 0x8003, kind, flags) + len(body).to_bytes(3, "big") + body


def data(stream, flags, payload):
    return struct.pack(">IB", stream, flags) + len(payload).to_bytes(3, "big") + payload


compressor = zlib.compressobj(zdict=spdy_dictionary)


def syn_stream(stream, pairs, flags=0):
    block = compressor.compress(header_block(pairs)) + compressor.flush(zlib.Z_SYNC_FLUSH)
    return control(1, flags, struct.pack(">IIBB", stream, 0, 0, 0) + block)


port_forward = (control(4, 0, struct.pack(">I", 1) + struct.pack(">BBHI", 0, 0, 7, 65536 * 4))
                + syn_stream(1, [("streamtype", "error"), ("port", "80"), ("requestid", "0")])
                + syn_stream(3, [("streamtype", "data"), ("port", "80"), ("requestid", "0")])
                + data(3, 0, b"GET / HTTP/1.0\r\n\r\n") + control(9, 0, struct.pack(">II", 3, 65536))
                + control(6, 0, struct.pack(">I", 1)) + data(3, 1, b"") + control(3, 0, struct.pack(">II", 3, 5))
                + control(7, 0, struct.pack(">II", 3, 0)))
compressor = zlib.compressobj(zdict=spdy_dictionary)
exec_session = (syn_stream(1, [("streamtype", "error")]) + syn_stream(3, [("streamtype", "stdin")])
                + syn_stream(5, [("streamtype", "stdout")]) + syn_stream(7, [("streamtype", "resize")])
                + data(3, 0, b"ls /\n") + data(7, 0, b'{"Width":80,"Height":24}') + data(3, 1, b""))
put("spdy-frames", "port-forward", b"\xff" + port_forward)
put("spdy-frames", "exec", b"\x07" + exec_session)
put("spdy-headers", "port-forward", header_block([("streamtype", "data"), ("port", "8080"), ("requestid", "1")]))
put("spdy-headers", "multi-value", header_block([(":status", "200"), ("set-cookie", "a=1\0b=2")]))

# ---- websocket: first byte bit 0 = base64 protocol, the rest = read size; then masked client frames ----
def ws(opcode, payload, fin=True, mask=b"\x12\x34\x56\x78"):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 65536:
        head += bytes([0x80 | 126]) + struct.pack(">H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack(">Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


put("websocket", "binary-exec", b"\xfe" + ws(2, b"\x00ls /\n") + ws(2, b"\x04" + b'{"Width":80,"Height":24}') + ws(9, b"ping") + ws(8, b"\x03\xe8"))
put("websocket", "base64-exec", b"\x01" + ws(1, b"0" + b"bHMgLwo=") + ws(1, b"4eyJXaWR0aCI6ODB9"))
put("websocket", "fragmented", b"\x20" + ws(2, b"\x00hel", fin=False) + ws(0, b"lo", fin=False) + ws(0, b"\n") + ws(10, b""))
put("websocket", "port-forward", b"\x10" + ws(2, b"\x00\x50\x00") + ws(2, b"\x00GET / HTTP/1.0\r\n\r\n"))

# ---- CRI log files: first byte bit 0 = timestamps, the rest = read size ----
log = (b"2026-01-01T00:00:00.000000001Z stdout F hello\n"
       b"2026-01-01T00:00:00.000000002Z stderr P part one \n"
       b"2026-01-01T00:00:00.000000003Z stderr F and two\n"
       b"2026-01-01T00:00:00.000000004Z stdout F \n"
       b"2026-01-01T00:00:00.000000005Z stdout F with spaces  in  it\n")
put("cri-log", "lines", b"\x00" + log)
put("cri-log", "timestamps-small-reads", b"\x07" + log)

# ---- hosts.toml with every key a host section takes ----
put("hosts-toml", "all-keys.toml", '''server = "https://registry.example.com"
ca = "/etc/crisp/certs.d/registry.example.com/ca.crt"
skip_verify = false
override_path = false

[host."https://mirror.example.com:5000/v2/prefix"]
  capabilities = ["pull", "resolve"]
  ca = ["ca.crt", "/etc/ssl/other.pem"]
  client = [["client.cert", "client.key"], ["/etc/pki/both.pem", ""]]
  skip_verify = true
  override_path = true
  dial_timeout = "3s"
  [host."https://mirror.example.com:5000/v2/prefix".header]
    x-custom = "1"
    authorization = ["Basic Zm9vOmJhcg=="]

[host."http://127.0.0.1:5001"]
  capabilities = ["pull"]
  client = "plain.pem"
''')
