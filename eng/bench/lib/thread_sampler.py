#!/usr/bin/env python3
"""Runs a command and samples, from /proc, what every thread of its process tree is doing.

    thread_sampler.py --json OUT [--interval 0.005] -- CMD ARGS...

Writes to OUT:
  "runnable": {"0": share, ..., "4": share}  how often N threads of the tree were runnable at once ("4": four or more)
      (state R: running or waiting for a core). On a busy machine R still means "wants a core", so
      this is the tree's demand, whatever it got: with 2 cores, a share of "2" or more near 1.0 means
      the work keeps both cores busy; "1" and "0" are the moments a core would idle on a quiet machine.
  "cpu_seconds": {thread name: seconds}  user + system time per thread name, summed over the tree's
      threads (e.g. ".NET TP Worker" for zstd's workers and our tasks, ".NET Tiered Com" for the JIT's
      background tier-up), as last seen before each thread ended.
  "window_seconds": [start, end]  with --window-from-log LOG and --window-target NAME, the histogram
      covers only the last MSBuild target NAME's duration (read from -clp:PerformanceSummary in LOG,
      counted back from the end of the run); otherwise the whole run.
  "samples", "seconds", "exit_code".
Exits with the command's exit code. Linux only.
"""
import argparse
import json
import os
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def descendants(root):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    stat = f.read()
                kids.setdefault(int(stat[stat.rindex(")") + 2:].split()[1]), []).append(int(d))
            except (OSError, ValueError):
                pass
    todo, seen = [root], []
    while todo:
        pid = todo.pop()
        seen.append(pid)
        todo += kids.get(pid, [])
    return seen


def target_seconds(log, name):
    """The duration of target NAME in MSBuild's performance summary, in seconds (None if absent)."""
    try:
        with open(log) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 3 and parts[1] == "ms" and parts[2] == name:
                    return int(parts[0]) / 1000
    except OSError:
        pass
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", required=True)
    ap.add_argument("--interval", type=float, default=0.005)
    ap.add_argument("--window-from-log")
    ap.add_argument("--window-target", default="_PublishSingleContainer")
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ["--"] else a.cmd
    proc = subprocess.Popen(cmd)
    t0 = time.monotonic()
    timeline, ticks, procs, n = [], {}, [], 0
    while proc.poll() is None:
        if n % 20 == 0:  # new processes (MSBuild nodes) are rare: look for them every 20 samples
            procs = descendants(proc.pid)
        n += 1
        runnable = 0
        for pid in procs:
            try:
                tids = os.listdir(f"/proc/{pid}/task")
            except OSError:
                continue
            for tid in tids:
                try:
                    with open(f"/proc/{pid}/task/{tid}/stat") as f:
                        stat = f.read()
                except OSError:
                    continue
                close = stat.rindex(")")
                fields = stat[close + 2:].split()
                ticks[(pid, tid)] = (stat[stat.index("(") + 1:close], int(fields[11]) + int(fields[12]))
                runnable += fields[0] == "R"
        timeline.append((time.monotonic() - t0, runnable))
        time.sleep(a.interval)
    end = time.monotonic() - t0
    start = 0.0
    if a.window_from_log:
        length = target_seconds(a.window_from_log, a.window_target)
        if length is not None:
            start = max(0.0, end - length)
    window = [r for t, r in timeline if t >= start]
    hist = {}
    for r in window:
        hist[str(min(r, 4))] = hist.get(str(min(r, 4)), 0) + 1
    cpu = {}
    for name, t in ticks.values():
        cpu[name] = round(cpu.get(name, 0) + t / TICK, 2)
    with open(a.json, "w") as f:
        json.dump({"runnable": {k: round(v / len(window), 3) for k, v in sorted(hist.items())} if window else {},
                   "cpu_seconds": dict(sorted(cpu.items(), key=lambda kv: -kv[1])),
                   "window_seconds": [round(start, 2), round(end, 2)],
                   "samples": len(window), "seconds": round(end, 2), "exit_code": proc.returncode}, f, indent=1)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
