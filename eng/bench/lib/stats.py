#!/usr/bin/env python3
"""The benchmark's results file: bash records raw samples through this script, report.py reads
them back and does the statistics (stdlib only).

    stats.py RESULTS.jsonl str KEY TEXT            a string
    stats.py RESULTS.jsonl json KEY JSON           a JSON value (number, true/false/null, object, list)
    stats.py RESULTS.jsonl samples KEY V...        a list of numbers ("null" or "" for a missing one)
    stats.py RESULTS.jsonl add KEY NAME=VALUE...   one sample object; every `add` to KEY makes a list
    stats.py RESULTS.jsonl add KEY JSON            the same, the value given whole (a number, an object)
    stats.py RESULTS.jsonl timev KEY SAMPLER.json TIME.txt
                                                   lib/rss_sampler.py's JSON plus, from `/usr/bin/time -v`,
                                                   time_max_rss_bytes and wall_seconds
    stats.py RESULTS.jsonl get KEY                 print a recorded value (for progress lines)

Each line of RESULTS.jsonl is {"k": key, "v": value}, plus "add": true for a sample of a list.
"""
import json
import statistics
import sys


def _value(text):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _number(text):
    if text in ("", "null"):
        return None
    return float(text) if any(c in text for c in ".eE") else int(text)


def load(path):
    """KEY -> value; the samples `add`ed to a key come back as a list in the order recorded."""
    res = {}
    for line in open(path):
        line = line.strip()
        if not line:
            continue
        o = json.loads(line)
        if o.get("add"):
            res.setdefault(o["k"], []).append(o["v"])
        else:
            res[o["k"]] = o["v"]
    return res


def numbers(v):
    return [x for x in v if isinstance(x, (int, float)) and not isinstance(x, bool)] if isinstance(v, list) else []


def median(v):
    """The median of a list of numbers, a number as it is, None for nothing."""
    if isinstance(v, list):
        xs = numbers(v)
        return statistics.median(xs) if xs else None
    return v if isinstance(v, (int, float)) and not isinstance(v, bool) else None


def spread(v):
    """' (min–max)' of a list of two or more numbers, else ''."""
    xs = numbers(v)
    return f" ({min(xs):.2f}–{max(xs):.2f})" if len(xs) > 1 else ""


def ratio(a, b):
    return None if a is None or b in (None, 0) else a / b


def rate(samples):
    """Throughput samples (objects with seconds and tarBytes, optional blobBytes) as one summary:
    median seconds and MB/s of tar bytes at that median. An object that is already a summary (a
    results file from before the samples were kept raw) is returned as it is."""
    if isinstance(samples, dict):
        return samples
    if not samples:
        return {}
    s = median([x.get("seconds") for x in samples])
    first = samples[0]
    out = {"medianSeconds": s, "seconds": [x.get("seconds") for x in samples], "tarBytes": first.get("tarBytes")}
    if first.get("blobBytes") is not None:
        out["blobBytes"] = first["blobBytes"]
    if s and out["tarBytes"]:
        out["tarMBps"] = out["tarBytes"] / 1e6 / s
    return out


def _time_v(path):
    """Maximum resident set size (bytes) and elapsed wall seconds from a `/usr/bin/time -v` file."""
    rss = wall = None
    for line in open(path):
        name, _, val = line.strip().partition(": ")
        if name == "Maximum resident set size (kbytes)":
            rss = int(val) * 1024
        elif name.startswith("Elapsed (wall clock) time"):
            wall = 0.0
            for part in val.split(":"):
                wall = wall * 60 + float(part)
    return rss, wall


def main(argv):
    if len(argv) < 4:
        sys.exit(__doc__)
    path, cmd, key, args = argv[1], argv[2], argv[3], argv[4:]
    rec = {"k": key}
    if cmd == "get":
        v = load(path).get(key)
        print("n/a" if v is None else v)
        return
    if cmd == "str":
        rec["v"] = " ".join(args)
    elif cmd == "json":
        rec["v"] = json.loads(args[0])
    elif cmd == "samples":
        rec["v"] = [_number(a) for a in args]
    elif cmd == "add" and len(args) == 1 and "=" not in args[0]:
        rec["v"], rec["add"] = _value(args[0]), True
    elif cmd == "add":
        obj = {}
        for a in args:
            name, _, val = a.partition("=")
            obj[name] = _value(val)
        rec["v"], rec["add"] = obj, True
    elif cmd == "timev":
        obj = json.load(open(args[0]))
        obj["time_max_rss_bytes"], obj["wall_seconds"] = _time_v(args[1])
        rec["v"] = obj
    else:
        sys.exit(f"stats.py: unknown command '{cmd}'\n{__doc__}")
    with open(path, "a") as f:
        f.write(json.dumps(rec, separators=(",", ":")) + "\n")


if __name__ == "__main__":
    main(sys.argv)
