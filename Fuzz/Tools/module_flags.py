#!/usr/bin/env python3
"""Prints, one per line, the swiftc flags SwiftPM used to compile a module of the debug build (from
.build/debug.yaml): import paths, C module maps, defines, language mode and upcoming features. deploy/fuzz.sh
compiles a decoder's source files again with exactly these flags plus -sanitize=fuzzer, so they see the
same modules the package build made, without rebuilding any dependency."""
import json
import sys

manifest_path, module = sys.argv[1], sys.argv[2]
text = open(manifest_path).read()
key = '"C.%s-' % module
index = 0
while True:
    index = text.find(key, index)
    if index < 0:
        sys.exit("module_flags: no compile command for module %s in %s" % (module, manifest_path))
    end_of_key = text.find('"', index + 1)
    if text[index:end_of_key].endswith("-debug.module"):
        break
    index = end_of_key
args_at = text.find("args:", index)
line_end = text.find("\n", args_at)
args = json.loads(text[args_at + len("args:"):line_end])

paired = {"-I", "-Xcc", "-target", "-swift-version", "-enable-upcoming-feature", "-enable-experimental-feature",
          "-module-cache-path", "-package-name"}
out = []
i = 1
while i < len(args):
    arg = args[i]
    if arg in paired and i + 1 < len(args):
        out += [arg, args[i + 1]]
        i += 2
        continue
    if arg.startswith("-D"):
        out.append(arg)
    i += 1
print("\n".join(out))
