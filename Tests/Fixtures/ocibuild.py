#!/usr/bin/env python3
"""Builds container images for crisp's tests and pushes them to a registry, independently of crisp's code.

Input is a JSON spec on stdin:
  {"repository": "test/app", "tag": "v1", "registry": "http://127.0.0.1:5000",
   "mediaTypes": "oci" | "docker",
   "images": [  # one per platform; more than one makes an index / manifest list
     {"platform": "linux/amd64", "config": {"User": "1002", "Entrypoint": ["/bin/sh"]},
      "layers": [{"compression": "gzip" | "zstd" | "none",
                  "entries": [{"path": "bin/busybox", "type": "file", "source": "/bin/busybox", "mode": 493},
                              {"path": "etc/motd", "type": "file", "content": "hi"},
                              {"path": "z", "type": "file", "zeros": 1048576},
                              {"path": "lib", "type": "symlink", "target": "usr/lib"},
                              {"path": "x", "type": "hardlink", "target": "etc/motd"},
                              {"path": "d", "type": "dir", "mode": 493},
                              {"path": "f", "type": "fifo"}, {"path": "c", "type": "char", "major": 1, "minor": 3},
                              {"path": "cap", "type": "file", "content": "", "xattrs": {"security.capability": "<hex>"}}]}]}]}
An image's "config" is written as the image config's "config" object as given ("User", "Env", "Cmd",
"Entrypoint", "WorkingDir", "StopSignal", ...).
Prints a JSON object with the digests it pushed: {"manifests": [...], "top": "sha256:...", "configs": [...], "layers": [...]}.

Crafted (hostile) images, for tests of what crisp refuses:
  entry "pax": {"key": "value"}      extra PAX records on that entry (e.g. {"size": "9223372036854775807"})
  entry "raw_pax": "<text>"          an extended header ('x') with exactly this content before the entry,
                                     lengths not checked (e.g. "99999999999999999999 path=x\n")
  layer "global_pax": {"key": "v"}   a global PAX header ('g') at the start of the layer
  layer "mediaType": "..."           the layer descriptor's media type as given
  layer "declaredSize": N            the layer descriptor's size as given (the blob is what it is)
  image "configDeclaredSize": N      the config descriptor's size as given
  image "manifestMediaType": null    the manifest without a mediaType field (a string: that value)
  image "indexMediaType": "..."      the media type of this image's entry in the index ("" allowed)
"""
import gzip
import hashlib
import io
import os
import json
import subprocess
import sys
import tarfile
import urllib.request

OCI = {
    "manifest": "application/vnd.oci.image.manifest.v1+json",
    "index": "application/vnd.oci.image.index.v1+json",
    "config": "application/vnd.oci.image.config.v1+json",
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}
DOCKER = {
    "manifest": "application/vnd.docker.distribution.manifest.v2+json",
    "index": "application/vnd.docker.distribution.manifest.list.v2+json",
    "config": "application/vnd.docker.container.image.v1+json",
    "none": "application/vnd.docker.image.rootfs.diff.tar",
    "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
}


def raw_header(name, typeflag, size):
    """One ustar header block, written by hand so its fields can say anything."""
    block = bytearray(512)
    block[0:len(name)] = name.encode()[:100]
    block[100:108] = b"0000644\0"
    block[108:116] = b"0000000\0"
    block[116:124] = b"0000000\0"
    block[124:136] = ("%011o" % size).encode() + b"\0"
    block[136:148] = ("%011o" % 1700000000).encode() + b"\0"
    block[148:156] = b"        "
    block[156] = ord(typeflag)
    block[257:263] = b"ustar\0"
    block[263:265] = b"00"
    checksum = sum(block)
    block[148:156] = ("%06o" % checksum).encode() + b"\0 "
    return bytes(block)


def raw_member(name, typeflag, content):
    padding = (512 - len(content) % 512) % 512
    return raw_header(name, typeflag, len(content)) + content + b"\0" * padding


def layer_tar(entries, global_pax=None):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        if global_pax:
            records = b""
            for key, value in global_pax.items():
                body = (" %s=%s\n" % (key, value)).encode("utf-8", "surrogateescape")
                length = len(body) + 1
                while len(str(length)) + len(body) != length:
                    length += 1
                records += str(length).encode() + body
            raw = raw_member("pax_global_header", "g", records)
            buffer.write(raw)
            tar.offset += len(raw)
        for entry in entries:
            if "raw_pax" in entry:
                raw = raw_member("PaxHeaders/x", "x", entry["raw_pax"].encode())
                buffer.write(raw)
                tar.offset += len(raw)
            info = tarfile.TarInfo(entry["path"])
            info.uid = entry.get("uid", 0)
            info.gid = entry.get("gid", 0)
            info.mtime = entry.get("mtime", 1700000000)
            kind = entry.get("type", "file")
            data = None
            if kind == "file":
                if "source" in entry:
                    with open(entry["source"], "rb") as source:
                        data = source.read()
                elif "random" in entry:
                    data = os.urandom(entry["random"])
                elif "zeros" in entry:
                    data = bytes(entry["zeros"])
                elif "size" in entry:
                    data = bytes((i * 7 + 3) % 251 for i in range(entry["size"]))
                else:
                    data = entry.get("content", "").encode()
                info.size = len(data)
                info.mode = entry.get("mode", 0o644)
            elif kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = entry.get("mode", 0o755)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry["target"]
                info.mode = 0o777
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = entry["target"]
            elif kind == "fifo":
                info.type = tarfile.FIFOTYPE
                info.mode = entry.get("mode", 0o644)
            elif kind == "char":
                info.type = tarfile.CHRTYPE
                info.devmajor = entry.get("major", 0)
                info.devminor = entry.get("minor", 0)
                info.mode = entry.get("mode", 0o666)
            if "xattrs" in entry:
                for name, hexvalue in entry["xattrs"].items():
                    info.pax_headers["SCHILY.xattr." + name] = bytes.fromhex(hexvalue).decode("latin-1")
            for key, value in entry.get("pax", {}).items():
                info.pax_headers[key] = value
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buffer.getvalue()


def compress(data, how):
    if how == "gzip":
        return gzip.compress(data, mtime=0)
    if how == "zstd":
        return subprocess.run(["zstd", "-q", "-c"], input=data, stdout=subprocess.PIPE, check=True).stdout
    return data


def digest(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Registry:
    def __init__(self, base, repository):
        self.base = base.rstrip("/")
        self.repository = repository

    def request(self, method, url, data=None, headers=None):
        req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
        return urllib.request.urlopen(req)

    def push_blob(self, data):
        d = digest(data)
        try:
            self.request("HEAD", f"{self.base}/v2/{self.repository}/blobs/{d}")
            return d
        except urllib.error.HTTPError:
            pass
        response = self.request("POST", f"{self.base}/v2/{self.repository}/blobs/uploads/")
        location = response.headers["Location"]
        if location.startswith("/"):
            location = self.base + location
        separator = "&" if "?" in location else "?"
        self.request("PUT", f"{location}{separator}digest={d}", data=data,
                     headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(data))})
        return d

    def push_manifest(self, reference, data, media_type):
        self.request("PUT", f"{self.base}/v2/{self.repository}/manifests/{reference}", data=data,
                     headers={"Content-Type": media_type})
        return digest(data)


def main():
    spec = json.load(sys.stdin)
    types = DOCKER if spec.get("mediaTypes") == "docker" else OCI
    registry = Registry(spec["registry"], spec["repository"])
    result = {"manifests": [], "configs": [], "layers": [], "diffIDs": []}
    descriptors = []
    for image in spec["images"]:
        os_name, arch, *variant = image.get("platform", "linux/amd64").split("/")
        layer_descriptors, diff_ids = [], []
        for layer in image.get("layers", []):
            raw = layer_tar(layer["entries"], layer.get("global_pax"))
            blob = compress(raw, layer.get("compression", "gzip"))
            d = registry.push_blob(blob)
            layer_descriptors.append({"mediaType": layer.get("mediaType", types[layer.get("compression", "gzip")]), "digest": d,
                                      "size": layer.get("declaredSize", len(blob))})
            diff_ids.append(layer.get("diffID", digest(raw)))
            result["layers"].append(d)
        config = {"architecture": arch, "os": os_name, "config": image.get("config", {}),
                  "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        if variant:
            config["variant"] = variant[0]
        config_bytes = json.dumps(config, sort_keys=True).encode()
        config_digest = registry.push_blob(config_bytes)
        result["configs"].append(config_digest)
        result["diffIDs"].append(diff_ids)
        manifest = {"schemaVersion": 2, "mediaType": image.get("manifestMediaType", types["manifest"]),
                    "config": {"mediaType": types["config"], "digest": config_digest,
                               "size": image.get("configDeclaredSize", len(config_bytes))},
                    "layers": layer_descriptors}
        if manifest["mediaType"] is None:
            del manifest["mediaType"]
        manifest_bytes = json.dumps(manifest, sort_keys=True).encode()
        platform = {"architecture": arch, "os": os_name}
        if variant:
            platform["variant"] = variant[0]
        if len(spec["images"]) == 1:
            top = registry.push_manifest(spec.get("tag", "latest"), manifest_bytes, types["manifest"])
            result["manifests"].append(top)
            result["top"] = top
        else:
            d = registry.push_manifest(digest(manifest_bytes), manifest_bytes, types["manifest"])
            result["manifests"].append(d)
            descriptors.append({"mediaType": image.get("indexMediaType", types["manifest"]), "digest": d, "size": len(manifest_bytes),
                                "platform": platform})
    if len(spec["images"]) > 1:
        index = {"schemaVersion": 2, "mediaType": types["index"], "manifests": descriptors}
        index_bytes = json.dumps(index, sort_keys=True).encode()
        result["top"] = registry.push_manifest(spec.get("tag", "latest"), index_bytes, types["index"])
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
