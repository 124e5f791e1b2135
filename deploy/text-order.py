#!/usr/bin/env python3
"""Prints the daemon's text order (gold section names, `.text.<symbol>`): every symbol of the daemon's text on
the sampled stacks given (`perf script --no-demangle -F ip,sym`), the most seen first, then the previous
order's entries not among them that are still symbols of the daemon. See deploy/text-order.sh.
Usage: text-order.py PREVIOUS SYMBOLS STACKS...   (SYMBOLS: the daemon's text symbols, one per line)"""
import collections
import sys

symbols = {line.strip() for line in open(sys.argv[2]) if line.strip()}
seen = collections.Counter()
for path in sys.argv[3:]:
    for line in open(path, errors="replace"):
        parts = line.split(None, 1)
        if len(parts) != 2:
            continue
        # Some perf versions mark inlined frames; the symbol is the first word.
        name = parts[1].strip().split(" ", 1)[0]
        if name in symbols:
            seen[name] += 1

order, placed = [], set()
for symbol, _ in sorted(seen.items(), key=lambda item: (-item[1], item[0])):
    placed.add(symbol)
    order.append(symbol)
sampled = len(order)
for line in open(sys.argv[1]):
    symbol = line.strip().removeprefix(".text.")
    if symbol in symbols and symbol not in placed:
        placed.add(symbol)
        order.append(symbol)
print(f"text-order.py: {sampled} symbols on the sampled stacks, {len(order) - sampled} kept from before", file=sys.stderr)
for symbol in order:
    print(".text." + symbol)
