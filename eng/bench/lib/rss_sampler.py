#!/usr/bin/env python3
"""Runs a command and samples the resident memory of its whole process tree from /proc.

    rss_sampler.py --json OUT [--interval 0.05] -- CMD ARGS...

Writes {"max_tree_rss_bytes", "max_single_rss_bytes", "max_single_cmd", "samples", "exit_code"}
to OUT: the largest sum of VmRSS over the command and all its descendants seen at one sample,
and the largest single process. Exits with the command's exit code.
"""
import json
import os
import subprocess
import sys
import time


def children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            kids.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError):
            pass
    return kids


def rss_of(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def cmd_of(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return "?"


def main():
    argv = sys.argv[1:]
    sep = argv.index("--")
    opts, cmd = argv[:sep], argv[sep + 1:]
    out = opts[opts.index("--json") + 1]
    interval = float(opts[opts.index("--interval") + 1]) if "--interval" in opts else 0.05
    proc = subprocess.Popen(cmd)
    best_tree, best_single, best_cmd, n = 0, 0, "", 0
    while proc.poll() is None:
        kids = children_map()
        stack, tree = [proc.pid], 0
        while stack:
            p = stack.pop()
            r = rss_of(p)
            tree += r
            if r > best_single:
                best_single, best_cmd = r, cmd_of(p)
            stack.extend(kids.get(p, []))
        best_tree = max(best_tree, tree)
        n += 1
        time.sleep(interval)
    with open(out, "w") as f:
        json.dump({"max_tree_rss_bytes": best_tree, "max_single_rss_bytes": best_single,
                   "max_single_cmd": best_cmd, "samples": n, "exit_code": proc.returncode}, f)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
