#!/usr/bin/env bash
# The demo: what zstd buys a fresh node. On a fresh machine (as root) it sets up a local registry,
# containerd and a stand-in aspnet base image (eng/rig.sh), packs ZstdContainers, publishes
# samples/HelloZstd twice (the SDK's own gzip path, then zstd), and then measures, for each image,
# a cold start as a node that has never seen it lives it:
#
#   containerd pull + unpack  ->  container start  ->  first HTTP response
#
# with every containerd namespace's content and snapshots removed and the page cache dropped
# before each try, a few tries per image (gzip and zstd interleaved), the median shown. Once at
# full loopback speed, once with the registry's traffic shaped to a real link (tc, 400 Mbit/s by
# default; removed afterwards whatever happens). It ends with one table and one line saying what
# the difference means. A few minutes (plus about 2.5 minutes the first time, for the base image).
#
#   bash eng/demo.sh
#   ZC_DEMO_TRIES=5 ZC_DEMO_RATE=100mbit bash eng/demo.sh
#
# The measurements use a private registry and a private containerd started for the run (the
# images are copied there), so shaping one port and emptying a content store never touch the
# rig's shared services; both are stopped by pid on exit.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
tries="${ZC_DEMO_TRIES:-3}"
rate="${ZC_DEMO_RATE:-400mbit}"
[[ $tries =~ ^[1-9][0-9]?$ ]] || { echo "demo.sh: ZC_DEMO_TRIES must be a number from 1 to 99" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "demo.sh: run as root (containerd, tc and drop_caches need it)" >&2; exit 1; }

say() { printf '== %s\n' "$*" >&2; }
now() { date +%s.%N; }

say "setting up the rig (registry, containerd, stand-in aspnet base image)"
# shellcheck source=/dev/null
source "$("$root/eng/rig.sh")"
source "$root/eng/lib/containerd-config.sh"
source "$root/eng/lib/private-registry.sh"
source "$root/eng/lib/shaping.sh"
source "$root/eng/lib/node-disk.sh"
snap="${ZC_CONTAINERD_SNAPSHOTTER:-overlayfs}"

run="$(mktemp -d /tmp/zc-demo.XXXXXX)"
pids=()
container=""
cleanup() {
  local p
  if [[ -n $container ]]; then stop_container; fi
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  node_disk_unmount "$run/node"
  unmount_below "$run"
  rm -rf "$run"
}
# Set before shaping_on, which puts shaping_off in front of it.
trap cleanup EXIT

# ---------------------------------------------------------------- publish both ways
# A unique version, so NuGet never serves a stale copy of an earlier pack from its cache.
version="0.1.0-demo.$(date +%s)"
say "packing ZstdContainers $version"
dotnet pack "$root/src/ZstdContainers.Tasks" -c Release -o "$root/artifacts/packages" -p:Version="$version" -nologo -v:q >/dev/null

sample="$root/samples/HelloZstd"
common=(-c Release -nologo -p:ZstdContainersVersion="$version"
        -p:ContainerBaseImage="$ZC_REGISTRY/dotnet/aspnet:10.0" -p:ContainerRegistry="$ZC_REGISTRY")
dotnet restore "$sample" -p:ZstdContainersVersion="$version" -nologo -v:q >/dev/null
dotnet publish "$sample" "${common[@]}" -v:q >/dev/null   # warm the build so the timings below are the container step

publish() { # $1 = compression, $2 = repository; prints the seconds taken
  local start end
  start=$(now)
  dotnet publish "$sample" "${common[@]}" --no-restore -t:PublishContainer \
    -p:ContainerLayerCompression="$1" -p:ContainerRepository="$2" -p:ContainerImageTag=demo -v:n \
    | grep -E "ZSTDC|error|warn| layer |uploaded|Pushed" >&2 || true
  end=$(now)
  echo "$end - $start" | bc
}
image_bytes() { # total of config + layers as stored in the registry
  skopeo inspect --raw --tls-verify=false "docker://$ZC_REGISTRY/$1:demo" \
    | jq '[.config.size] + [.layers[].size] | add'
}
say "publishing with the SDK alone (gzip)"
gzip_time=$(publish gzip samples/hello-gzip 2>/dev/null | tail -1)
say "publishing with ZstdContainers (zstd, level 3)"
zstd_time=$(publish zstd samples/hello-zstd | tail -1)
gzip_bytes=$(image_bytes samples/hello-gzip)
zstd_bytes=$(image_bytes samples/hello-zstd)

# ---------------------------------------------------------------- a fresh node: private registry + containerd
say "starting a private registry and containerd for the measurements"
# containerd's root and state on a journaled ext4 of their own, as a node's /var/lib/containerd
# (eng/lib/node-disk.sh: why this machine's root file system would slow every pull after the first)
cd_disk="$run/cd"
if node_disk_mount "$run/node"; then
  cd_disk="$run/node"
else
  echo "   (no loop device: containerd stays on the $(root_fs_note) file system of /tmp)" >&2
fi
mkdir -p "$cd_disk/root" "$cd_disk/state" "$cd_disk/opt" "$run/cd/bin"
start_private_registry "$run" "$run/registry.log" ||
  { tail -5 "$run/registry.log" >&2; echo "demo.sh: the private registry did not start" >&2; exit 1; }
reg=$PRIVATE_REGISTRY
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$run/policy.json"
for repo in samples/hello-gzip samples/hello-zstd; do
  skopeo --policy "$run/policy.json" copy -q --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
    "docker://$ZC_REGISTRY/$repo:demo" "docker://$reg/$repo:demo"
done

# containerd as on a node without pigz (gzip decoded in containerd's own Go code, the common case):
# a PATH holding only what it execs to run a container, and the documented switch.
sock="$run/cd/containerd.sock"
write_containerd_config "$run/cd/config.toml" "$cd_disk" "$sock"
for c in containerd-shim-runc-v2 runc; do ln -sf "$(command -v "$c")" "$run/cd/bin/$c"; done
env PATH="$run/cd/bin" CONTAINERD_DISABLE_PIGZ=1 "$(command -v setsid)" "$(command -v containerd)" --config "$run/cd/config.toml" \
  >"$run/containerd.log" 2>&1 </dev/null &
pids+=($!)
ctr=(ctr -a "$sock")
wait_for 30 "${ctr[@]}" version || { tail -5 "$run/containerd.log" >&2; echo "demo.sh: the private containerd did not start" >&2; exit 1; }

# forget_everything: no image, container, content or snapshot left in any namespace, then the page
# cache dropped, so the next pull fetches and unpacks every byte (blobs are shared across
# namespaces: one left anywhere would be reused).
forget_everything() {
  local ns item i
  for i in 1 2 3; do
    for ns in $("${ctr[@]}" namespaces ls -q); do
      for item in $("${ctr[@]}" -n "$ns" containers ls -q); do "${ctr[@]}" -n "$ns" containers rm "$item" >/dev/null 2>&1 || true; done
      for item in $("${ctr[@]}" -n "$ns" images ls -q); do "${ctr[@]}" -n "$ns" images rm --sync "$item" >/dev/null 2>&1 || true; done
      "${ctr[@]}" -n "$ns" content prune references >/dev/null 2>&1 || true
    done
    local left=""
    for ns in $("${ctr[@]}" namespaces ls -q); do
      left+=$("${ctr[@]}" -n "$ns" content ls -q)
      left+=$("${ctr[@]}" -n "$ns" snapshots --snapshotter "$snap" ls | tail -n +2)
    done
    if [[ -z $left ]]; then
      sync
      echo 3 >/proc/sys/vm/drop_caches
      return 0
    fi
    sleep 1
  done
  echo "demo.sh: containerd still holds content or snapshots after removing every image" >&2
  return 1
}
stop_container() {
  "${ctr[@]}" task kill -s SIGKILL "$container" >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do "${ctr[@]}" task rm "$container" >/dev/null 2>&1 && break; sleep 0.1; done
  "${ctr[@]}" containers rm "$container" >/dev/null 2>&1 || true
  container=""
}
# cold_start REPO: pull + unpack + start + first response; sets cold_total and cold_pull (seconds).
# (Not run in a $(...) subshell: the cleanup trap must know the container it started.)
cold_start() {
  local ref="$reg/$1:demo" port t0 t1 t2 reply=""
  forget_everything
  port=$(free_port)
  container="demo-$$-$RANDOM"
  t0=$(now)
  # ctr's own chatter (progress, a cancelled status query at the end) goes to the log
  "${ctr[@]}" images pull --plain-http --snapshotter "$snap" "$ref" >/dev/null 2>>"$run/ctr.log" ||
    { tail -5 "$run/ctr.log" >&2; echo "demo.sh: pulling $ref failed" >&2; return 1; }
  t1=$(now)
  "${ctr[@]}" run -d --net-host --snapshotter "$snap" --env ASPNETCORE_HTTP_PORTS="$port" "$ref" "$container" >/dev/null
  for _ in $(seq 1 3000); do
    if reply=$(curl -fsS -m 1 "http://127.0.0.1:$port/" 2>/dev/null); then break; fi
    sleep 0.01
  done
  t2=$(now)
  stop_container
  [[ $reply == Hello* ]] || { echo "demo.sh: $ref did not answer on port $port within 30 s" >&2; return 1; }
  cold_total=$(echo "$t2 - $t0" | bc)
  cold_pull=$(echo "$t1 - $t0" | bc)
}
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }

# measure LABEL: $tries cold starts of each image, interleaved; sets <LABEL>_{gzip,zstd}_{total,pull}
measure() {
  local label=$1 i c all
  local -a gt gp zt zp
  for ((i = 1; i <= tries; i++)); do
    cold_start samples/hello-gzip; gt+=("$cold_total"); gp+=("$cold_pull")
    cold_start samples/hello-zstd; zt+=("$cold_total"); zp+=("$cold_pull")
    printf '   try %d: gzip %.2f s (pull + unpack %.2f), zstd %.2f s (%.2f)\n' "$i" "${gt[-1]}" "${gp[-1]}" "${zt[-1]}" "${zp[-1]}" >&2
  done
  for c in gt gp zt zp; do
    all="$c[@]"
    printf -v "${label}_$c" '%s' "$(median "${!all}")"
  done
}
load_start=$(cut -d' ' -f1 /proc/loadavg)
say "cold start at full loopback speed ($tries tries each)"
measure full
say "cold start with the registry's traffic shaped to $rate ($tries tries each)"
shaping_on "${reg##*:}" "$rate"
measure shaped
shaping_off

# ---------------------------------------------------------------- the table
ratio() { echo "scale=2; $1 / $2" | bc | sed 's/^\./0./'; }
mb() { echo "scale=1; $1 / 1000000" | bc | sed 's/^\./0./'; }
rate_label="$(sed -E 's/mbit$/ Mbit\/s/; s/gbit$/ Gbit\/s/' <<<"$rate")"
echo
echo "samples/HelloZstd on the stand-in aspnet:10.0 base; a fresh containerd node, median of $tries cold starts"
echo "($(nproc) cores; load average $load_start at the start of the measurements, $(cut -d' ' -f1 /proc/loadavg) at the end: other work on the machine slows both columns)"
printf '%-40s %12s %12s %10s\n' "" "SDK (gzip)" "zstd" "zstd/gzip"
printf '%-40s %12s %12s %10s\n' "image, MB" "$(mb "$gzip_bytes")" "$(mb "$zstd_bytes")" "$(ratio "$zstd_bytes" "$gzip_bytes")"
printf '%-40s %12.2f %12.2f %10s\n' "publish step, s" "$gzip_time" "$zstd_time" "$(ratio "$zstd_time" "$gzip_time")"
printf '%-40s %12.2f %12.2f %10s\n' "cold start to first response, loopback" "$full_gt" "$full_zt" "$(ratio "$full_zt" "$full_gt")"
printf '%-40s %12.2f %12.2f %10s\n' "  of which pull + unpack" "$full_gp" "$full_zp" "$(ratio "$full_zp" "$full_gp")"
printf '%-40s %12.2f %12.2f %10s\n' "cold start to first response, $rate_label" "$shaped_gt" "$shaped_zt" "$(ratio "$shaped_zt" "$shaped_gt")"
printf '%-40s %12.2f %12.2f %10s\n' "  of which pull + unpack" "$shaped_gp" "$shaped_zp" "$(ratio "$shaped_zp" "$shaped_gp")"
echo
saved=$(echo "$shaped_gt - $shaped_zt" | bc)
pct=$(echo "scale=0; 100 * ($shaped_gt - $shaped_zt) / $shaped_gt" | bc)
if (($(echo "$saved > 0" | bc))); then
  printf 'Meaning: a node pulling this image afresh over a %s link serves its first request %.1f s (%s%%) sooner with zstd layers - on every scale-out, new node and CI runner.\n' "$rate_label" "$saved" "$pct"
else
  printf 'Meaning: on this machine the zstd image did not start sooner over a %s link (%.1f s slower); see README "Performance" for why.\n' "$rate_label" "${saved#-}"
fi
