#!/usr/bin/env python3
"""Medians of pull-timeline.sh's JSON lines, per label (mode + image) and link rate.

    pull_timeline_summary.py OUT.jsonl...

Columns: pulls, total (median, min-max), fetch window end, achieved fetch rate, sum of the layer
applies, time from the last fetch end to the last apply end (what the link cannot hide), per-layer
apply medians, load average range.
"""
import json
import statistics
import sys
from collections import defaultdict


def med(xs):
    xs = [x for x in xs if x is not None]
    return round(statistics.median(xs), 2) if xs else None


def main(paths):
    groups = defaultdict(list)
    for p in paths:
        with open(p) as f:
            for line in f:
                if line.strip():
                    r = json.loads(line)
                    groups[(r["rate"], r["label"])].append(r)
    print("| rate | pull | n | total s (min-max) | fetch done s | fetch Mbit/s | apply sum s | after last fetch s | apply per layer s | containerd CPU s | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for (rate, label), rs in sorted(groups.items()):
        totals = [r["total"] for r in rs]
        fetch_end = [r["fetch_window"][1] for r in rs]
        tail = [max(l["apply"][1] for l in r["layers"]) - r["fetch_window"][1] for r in rs]
        per_layer = [med([r["layers"][i]["apply"][1] - r["layers"][i]["apply"][0] for r in rs])
                     for i in range(len(rs[0]["layers"]))]
        loads = [r["load"] for r in rs]
        print(f"| {rate} | {label} | {len(rs)} | {med(totals)} ({min(totals):.2f}-{max(totals):.2f}) | {med(fetch_end)} "
              f"| {med([r['fetch_mbit_s'] for r in rs])} | {med([r['apply_sum'] for r in rs])} | {med(tail)} "
              f"| {' / '.join(str(x) for x in per_layer)} | {med([r.get('containerd_cpu') for r in rs])} | {min(loads)}-{max(loads)} |")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(sys.argv[1:])
