#!/usr/bin/env bash
# Where a containerd pull's time goes: per layer, fetch start/end and apply (decompress + untar)
# start/end, from a private containerd 1.6 at debug level (lib/pull_timeline.py reads its log).
#
#   eng/bench/pull-timeline.sh [--rate 400mbit] [--pulls 5] [--mode ctr|rpull|both] OUT.jsonl REF...
#
# REF: images in a plain-HTTP registry on 127.0.0.1 (e.g. a run folder of run.sh --keep, served
# again). Rounds of cold pulls, the REFs interleaved: before each, every image is removed, the
# content store and snapshots checked empty, and the page cache dropped. --rate shapes the
# registry's port with eng/lib/shaping.sh (removed on exit). Modes: `ctr images pull` (fetches
# everything, then unpacks) and `ctr-remote images rpull --snapshotter overlayfs` (containerd's
# client Pull with unpack, the kubelet/ECS path: layer i is applied as soon as it and i-1 are done
# while the others still download). One JSON line per pull in OUT.jsonl, with the load average.
# Needs root, containerd, ctr, ctr-remote (Debian's stargz-snapshotter).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
source "$root/eng/lib/containerd-config.sh"
source "$root/eng/lib/private-registry.sh"
source "$root/eng/lib/shaping.sh"
source "$root/eng/lib/node-disk.sh"

rate="" pulls=5 modes="ctr"
while [[ ${1:-} == --* ]]; do
  case $1 in
    --rate) rate=$2; shift 2 ;;
    --pulls) pulls=$2; shift 2 ;;
    --mode) modes=$2; [[ $modes == both ]] && modes="ctr rpull"; shift 2 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
(($# >= 2)) || { sed -n '2,14p' "$0" >&2; exit 2; }
out=$1; shift
reg=${1%%/*}

dir=$(mktemp -d /tmp/pull-timeline.XXXXXX)
pid=""
cleanup() {
  shaping_off
  [[ -n $pid ]] && { kill "$pid" 2>/dev/null || true; for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done; }
  node_disk_unmount "$dir/node"
  unmount_below "$dir"
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# a containerd of our own at debug level, gzip decoded in-process (as run.sh's cd-inproc)
# root and state on a journaled ext4 of their own, as run.sh's (eng/lib/node-disk.sh says why)
disk="$dir"
if node_disk_mount "$dir/node"; then disk="$dir/node"; else echo "no loop device: containerd stays on $(root_fs_note)" >&2; fi
mkdir -p "$dir/bin" "$disk/root" "$disk/state" "$disk/opt"
write_containerd_config "$dir/config.toml" "$disk" "$dir/containerd.sock"
sed -i 's/^  level = "warn"/  level = "debug"/' "$dir/config.toml"
for c in containerd-shim-runc-v2 runc; do ln -sf "$(command -v "$c")" "$dir/bin/$c"; done
(env PATH="$dir/bin" CONTAINERD_DISABLE_PIGZ=1 "$(command -v setsid)" "$(command -v containerd)" --config "$dir/config.toml" \
  >"$dir/containerd.log" 2>&1 </dev/null & echo $! >"$dir/pid")
pid=$(<"$dir/pid")
sock="$dir/containerd.sock"
wait_for 30 ctr -a "$sock" version || { echo "containerd did not start" >&2; exit 1; }
content="$disk/root/io.containerd.content.v1.content"

empty() {
  local img
  for _ in 1 2 3; do
    for img in $(ctr -a "$sock" images ls -q); do ctr -a "$sock" images rm --sync "$img" >/dev/null 2>&1 || true; done
    ctr -a "$sock" content prune references >/dev/null 2>&1 || true
    [[ -z $(ctr -a "$sock" content ls | tail -n +2) && -z $(ctr -a "$sock" snapshots ls | tail -n +2) ]] && return 0
    sleep 1
  done
  echo "content or snapshots left in $sock" >&2; return 1
}
now() { local t=${EPOCHREALTIME//[.,]/}; echo "$((10#$t))"; }
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$pid/stat"; } # containerd's user + system time, in clock ticks
hz=$(getconf CLK_TCK)

if [[ -n $rate ]]; then shaping_on "${reg##*:}" "$rate"; fi
for ((i = 1; i <= pulls; i++)); do
  for mode in $modes; do
    for ref in "$@"; do
      empty
      sync; echo 3 >/proc/sys/vm/drop_caches
      offset=$(stat -c %s "$dir/containerd.log")
      load=$(cut -d' ' -f1 /proc/loadavg)
      c0=$(cpu_ticks)
      t0=$(now)
      if [[ $mode == ctr ]]; then
        ctr -a "$sock" images pull --plain-http "$ref" >"$dir/pull.out" 2>&1
      else
        ctr-remote -a "$sock" images rpull --plain-http --snapshotter overlayfs "$ref" >"$dir/pull.out" 2>&1
      fi || { cat "$dir/pull.out" >&2; exit 1; }
      t1=$(now)
      cpu=$(( $(cpu_ticks) - c0 ))
      line=$(python3 "$root/eng/bench/lib/pull_timeline.py" "$dir/containerd.log" "$offset" "$content" "$t0" "$t1" "$reg" "$ref" "$mode $ref")
      jq -c --arg load "$load" --arg rate "${rate:-none}" --argjson round "$i" --argjson cpu "$cpu" --argjson hz "$hz" \
        '. + {load: ($load | tonumber), rate: $rate, round: $round, containerd_cpu: ($cpu / $hz)}' <<<"$line" | tee -a "$out" |
        jq -r '"\(.round) \(.label) \(.total) s, fetch \(.fetch_window) at \(.fetch_mbit_s) Mbit/s, apply sum \(.apply_sum) s, containerd cpu \(.containerd_cpu) s, load \(.load)"' >&2
    done
  done
done
