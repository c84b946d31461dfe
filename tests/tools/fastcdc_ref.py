#!/usr/bin/env python3
"""Reference implementation of cairn's chunker, written from docs/format.md
(#chunking) and kept independent of the C++ code. Used to make the golden cut
points pinned in tests/unit/objstore/chunker_test.cc.

usage: fastcdc_ref.py  -> prints the cut points of the test input
"""
import hashlib

MASK64 = (1 << 64) - 1


def gear_table(seed: bytes):
    return [int.from_bytes(hashlib.sha256(seed + bytes([i])).digest()[:8], "little") for i in range(256)]


def top_bits(n):
    return 0 if n <= 0 else (MASK64 << (64 - n)) & MASK64


def cuts(data: bytes, seed: bytes, mn: int, avg: int, mx: int):
    gear = gear_table(seed)
    bits = avg.bit_length() - 1
    mask_s, mask_l = top_bits(bits + 2), top_bits(bits - 2)
    out, start, n = [], 0, len(data)
    while start < n:
        end = n
        i = start + mn
        h = 0
        while i < min(n, start + mx):
            h = ((h << 1) + gear[data[i]]) & MASK64
            mask = mask_s if i - start < avg else mask_l
            if h & mask == 0:
                end = i + 1
                break
            i += 1
        else:
            end = min(n, start + mx)
        out.append(end)
        start = end
    return out


def test_input(size=1 << 20):
    """Deterministic pseudo-random bytes: SHA-256 in counter mode."""
    out = bytearray()
    ctr = 0
    while len(out) < size:
        out += hashlib.sha256(b"cairn-chunker-test" + ctr.to_bytes(8, "little")).digest()
        ctr += 1
    return bytes(out[:size])


if __name__ == "__main__":
    seed = bytes(range(32))
    data = test_input()
    c = cuts(data, seed, 2048, 8192, 32768)
    print(len(c), c)
    g = gear_table(bytes(32))
    print("gear0(zero seed)", hex(g[0]), hex(g[255]))
