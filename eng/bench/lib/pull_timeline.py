#!/usr/bin/env python3
"""One pull's timeline from a containerd 1.6 debug log (pull-timeline.sh starts the daemon).

    pull_timeline.py LOG OFFSET CONTENT_ROOT T0 T1 REGISTRY REF LABEL

LOG from byte OFFSET holds the pull's debug lines; CONTENT_ROOT is the daemon's
io.containerd.content.v1.content folder; T0/T1 the pull's start/end (epoch microseconds).
Per layer, in manifest order, seconds from T0:
  fetch start  "(*service).Write started" for ref layer-<digest>
  fetch end    mtime of the committed blob (its last write)
  apply start  "diff applied" time minus its d=
  apply end    "diff applied" time
Prints one JSON object (label, total, layers[], achieved fetch rate) on one line.
"""
import calendar
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry import image_manifest, split_ref  # noqa: E402

LINE = re.compile(r'time="([^"]+)" level=debug msg="([^"]+)"(.*)')
FIELD = re.compile(r'(\w+)=("[^"]*"|\S+)')
UNITS = {"ns": 1e-9, "µs": 1e-6, "us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}


def epoch(ts):
    # 2026-12-06T03:18:57.227218909Z: Python's datetime keeps microseconds only
    head, frac = ts.rstrip("Z").split(".")
    return calendar.timegm(time.strptime(head, "%Y-%m-%dT%H:%M:%S")) + float("0." + frac)


def go_duration(text):
    total = 0.0
    for num, unit in re.findall(r"([0-9.]+)(ns|µs|us|ms|s|m|h)", text):
        total += float(num) * UNITS[unit]
    return total


def main(log, offset, root, t0, t1, reg, ref, label):
    t0, t1 = int(t0) / 1e6, int(t1) / 1e6
    with open(log, "rb") as f:
        f.seek(int(offset))
        text = f.read().decode("utf-8", "replace")
    started, applied = {}, {}
    for line in text.splitlines():
        m = LINE.search(line)
        if not m:
            continue
        when, msg, rest = epoch(m.group(1)), m.group(2), dict((k, v.strip('"')) for k, v in FIELD.findall(m.group(3)))
        if msg == "(*service).Write started" and rest.get("ref", "").startswith("layer-"):
            started.setdefault(rest["ref"][len("layer-"):], when)
        elif msg == "diff applied":
            applied[rest["digest"]] = (when - go_duration(rest["d"]), when)
    _, manifest = image_manifest(reg, *split_ref(ref[len(reg) + 1:] if ref.startswith(reg + "/") else ref))
    layers = []
    for layer in manifest["layers"]:
        d = layer["digest"]
        blob = os.path.join(root, "blobs", "sha256", d.split(":", 1)[1])
        fetch_end = os.stat(blob).st_mtime_ns / 1e9 if os.path.exists(blob) else None
        a0, a1 = applied.get(d, (None, None))
        rel = lambda x: None if x is None else round(x - t0, 3)  # noqa: E731
        layers.append({"digest": d[7:19], "size": layer["size"], "fetch": [rel(started.get(d)), rel(fetch_end)],
                       "apply": [rel(a0), rel(a1)]})
    fetched = [x for x in layers if None not in x["fetch"]]
    if fetched:
        first = min(x["fetch"][0] for x in fetched)
        last = max(x["fetch"][1] for x in fetched)
        rate = sum(x["size"] for x in fetched) * 8 / 1e6 / (last - first) if last > first else None
    else:
        first = last = rate = None
    applies = [x["apply"] for x in layers if x["apply"][0] is not None]
    print(json.dumps({"label": label, "total": round(t1 - t0, 3), "fetch_window": [first, last],
                      "fetch_mbit_s": rate and round(rate, 1),
                      "apply_sum": round(sum(b - a for a, b in applies), 3),
                      "layers": layers}))


if __name__ == "__main__":
    if len(sys.argv) != 9:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
