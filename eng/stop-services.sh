#!/usr/bin/env bash
# Stops the registry and containerd started by eng/start-services.sh. Their data (registry storage,
# containerd content, the base-image rootfs) stays in $ZC_STATE so the next start is fast; delete
# the directory to start from scratch. Only processes recorded in our pid files are signalled, and
# only if their command line still names our config file.
set -euo pipefail

state="${ZC_STATE:-/tmp/zstdcontainers-rig}"

die() { echo "stop-services.sh: $*" >&2; exit 1; }

# stop NAME PIDFILE NEEDLE
stop() {
  local name=$1 pidfile=$2 needle=$3 pid i
  [[ -s $pidfile ]] || return 0
  pid="$(<"$pidfile")"
  if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$needle"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do # up to 10 s for a clean shutdown
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      ! kill -0 "$pid" 2>/dev/null || die "$name (pid $pid) did not stop"
    fi
  fi
  rm -f "$pidfile"
}

[[ -d $state ]] || exit 0

# Same lock as start-services.sh: a start running at the same time would otherwise write pid files
# and env.sh that we then delete.
exec 9>"$state/start-services.flock"
flock 9

# containerd first: it may still be pulling from the registry.
if [[ -S $state/containerd/containerd.sock ]] && command -v ctr >/dev/null 2>&1; then
  # Kill leftover containers' tasks (e.g. a test that failed before `ctr run --rm` cleaned up),
  # otherwise their shims keep running and hold overlay mounts under our root.
  sock="$state/containerd/containerd.sock"
  for ns in $(ctr -a "$sock" namespaces ls -q 2>/dev/null); do
    for task in $(ctr -a "$sock" -n "$ns" tasks ls -q 2>/dev/null); do
      ctr -a "$sock" -n "$ns" tasks kill -s SIGKILL "$task" >/dev/null 2>&1 || true
      ctr -a "$sock" -n "$ns" tasks delete -f "$task" >/dev/null 2>&1 || true
    done
  done
fi
stop containerd "$state/containerd.pid" "$state/containerd/config.toml"
rm -f "$state/containerd/containerd.sock" "$state/containerd/containerd.sock.ttrpc"

stop registry "$state/registry.pid" "$state/registry.yml"

# env.sh describes running services; without them it would mislead.
rm -f "$state/env.sh"
