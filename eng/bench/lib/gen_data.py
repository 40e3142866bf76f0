#!/usr/bin/env python3
"""Writes a deterministic folder of mixed files for the benchmark (stdlib only).

    gen_data.py OUT_DIR TOTAL_MB [--seed N]

The mix stands in for an app's dependency folder: ~40% incompressible bytes (already-compressed
assets), ~35% text (JSON/log-like, compresses about 4x) and ~25% structured binary records
(compresses about 2-3x), in many small files, some medium and a few large ones, two folder levels
deep. Same arguments, same bytes. A stamp file records the arguments; when it matches, nothing is
rewritten (generation is skipped on later runs).
"""
import argparse
import os
import random
import shutil

VERSION = 3


def text_corpus(rng, size):
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 11)))
             for _ in range(3000)]
    keys = ["id", "name", "timestamp", "level", "message", "user", "value", "status", "path", "count"]
    out, n = [], 0
    while n < size:
        if rng.random() < 0.5:
            line = '{"%s": %d, "%s": "%s", "%s": "%s"}\n' % (
                rng.choice(keys), rng.randint(0, 10**6), rng.choice(keys),
                " ".join(rng.choices(words, k=rng.randint(1, 6))), rng.choice(keys), rng.choice(words))
        else:
            line = "2025-11-%02d %02d:%02d:%02d INFO %s\n" % (
                rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59),
                " ".join(rng.choices(words, k=rng.randint(4, 16))))
        out.append(line)
        n += len(line)
    return "".join(out).encode()[:size]


def record_block(rng, size):
    # 16-byte records: 4 random bytes, then 12 bytes drawn from a small table of field values.
    n = size // 16
    buf = bytearray(n * 16)
    rnd = rng.randbytes(n * 4)
    for j in range(4):
        buf[j::16] = rnd[j::4]
    table = [rng.randbytes(12) for _ in range(64)]
    tail = b"".join(rng.choice(table) for _ in range(n))
    for j in range(12):
        buf[4 + j::16] = tail[j::12]
    return bytes(buf)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("total_mb", type=int)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    stamp = os.path.join(a.out, ".gen-stamp")
    want = f"v{VERSION} total_mb={a.total_mb} seed={a.seed}\n"
    if os.path.exists(stamp) and open(stamp).read() == want:
        return
    shutil.rmtree(a.out, ignore_errors=True)
    os.makedirs(a.out)
    rng = random.Random(a.seed)
    total = a.total_mb * 1_000_000
    corpus = text_corpus(rng, 32 * 1_000_000)
    records = record_block(rng, 8 * 1_000_000)

    def content(kind, size):
        if kind == "random":
            return rng.randbytes(size)
        src = corpus if kind == "text" else records
        parts, left = [], size
        while left > 0:  # slices of the corpus at random places, so files differ
            take = min(left, rng.randint(64 * 1024, 1024 * 1024))
            start = rng.randrange(0, len(src) - take)
            parts.append(src[start:start + take])
            left -= take
        return b"".join(parts)

    written, i = 0, 0
    while written < total:
        r = rng.random()
        size = (rng.randint(1_000, 64_000) if r < 0.85 else
                rng.randint(64_000, 1_000_000) if r < 0.99 else
                rng.randint(2_000_000, 8_000_000))
        size = min(size, total - written)
        k = rng.random()
        kind = "random" if k < 0.40 else "text" if k < 0.75 else "records"
        ext = {"random": ".bin", "text": ".json", "records": ".dat"}[kind]
        d = os.path.join(a.out, f"pkg{i % 23:02d}", f"lib{i % 7}")
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"file{i:05d}{ext}"), "wb") as f:
            f.write(content(kind, size))
        written += size
        i += 1
    with open(stamp, "w") as f:
        f.write(want)


if __name__ == "__main__":
    main()
