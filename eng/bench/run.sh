#!/usr/bin/env bash
# The benchmark: ZstdContainers (zstd) against the SDK alone (gzip) and the native zstd CLI, side by
# side in one run, on this machine. Writes eng/bench/results/latest.md (table + machine),
# latest.svg (chart) and latest.jsonl (every sample). This script only orchestrates and records raw
# samples (lib/stats.py); lib/report.py does the statistics; lib/common.sh is shared with chunked.sh.
#
#   eng/bench/run.sh            full run (25-35 minutes on a 2-core machine once the rig exists)
#   eng/bench/run.sh --quick    smoke run: one repetition each, 2 pulls, no level 19, 400 MB folder;
#                               writes results/quick.* instead of latest.*
#   eng/bench/run.sh --keep     keep the run folder (logs, projects, registry) under /tmp
#
# What it does, in order:
#   1. apt: hyperfine, pigz, jq, time, only when missing; eng/rig.sh: registry, containerd and the
#      stand-in dotnet/aspnet base image (built once, about 2.5 minutes the first time).
#   2. packs ZstdContainers from this working tree as 0.1.0-bench.<timestamp>; builds the
#      LayerBench harness (eng/bench/LayerBench) against src/ZstdContainers.
#   3. starts, under a fresh run folder: a private registry (so "target repository empty" is true
#      and nothing accumulates in the rig's registry) seeded with the rig's dotnet/aspnet:10.0 and a
#      dotnet/runtime-deps:10.0 stand-in (its OS layer only); two private containerd daemons, one
#      that decodes gzip in-process (no unpigz on PATH, CONTAINERD_DISABLE_PIGZ=1) and one with unpigz.
#   4. projects: (a) a copy of samples/HelloZstd (framework-dependent, aspnet base); (b) a
#      self-contained linux-x64 web app plus ~100 MB of generated mixed files as 23 local NuGet
#      packages (runtime-deps base);
#      (c) a framework-dependent app with a generated 2 GB folder, for peak memory.
#   5. measures (see eng/bench/README.md for the methods) and writes the report: publish step, image
#      bytes, pull + unpack, redeploy, then the issue 12 scenarios (cold CI runner, warm machine,
#      pulls through a 400 Mbit/s link shaped with tc, base layer levels, the first publish to an empty
#      registry (one more registry per publish, started empty), the task's JIT), then
#      layer-build throughput and peak memory. ZCB_SECTIONS="id ..." runs only some (README).
# Everything it starts (registry, containerd x2) is stopped by pid on exit; tc shaping on lo is
# removed on every exit of the section that added it; the run folder is deleted unless --keep.
# Generated data is cached in ${ZCB_DATA:-/tmp/zstdcontainers-bench-data}.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/../.." && pwd -P)"
lib="$here/lib"
source "$root/eng/lib/containerd-config.sh"
source "$lib/common.sh"
source "$root/eng/lib/shaping.sh"
results="$here/results"

quick=0 keep=0
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,32p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$a' (use --quick, --keep)" >&2; exit 2 ;;
  esac
done

if ((quick)); then
  N_PUB=1 N_PULL=2 N_TP=1 LEVELS="3 9" BIG_MB=400
else
  N_PUB=3 N_PULL=5 N_TP=3 LEVELS="3 7 9 19" BIG_MB=2000
fi
# ZCB_LEVELS="7 8": the base levels the levels section measures (for choosing the default)
LEVELS=${ZCB_LEVELS:-$LEVELS}
DEPS_MB=100
data="${ZCB_DATA:-/tmp/zstdcontainers-bench-data}"
[[ $(id -u) -eq 0 ]] || die "run as root (the rig, containerd and drop_caches need it)"

# ------------------------------------------------------------------ 1. tools and rig
say "tools"
need=()
for pair in hyperfine:hyperfine pigz:pigz unpigz:pigz jq:jq /usr/bin/time:time; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair##*:}")
done
if ((${#need[@]})); then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  echo "installing: ${need[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null; } ||
    die "apt-get could not install ${need[*]}"
fi
dpkg -S "$(command -v unpigz)" 2>/dev/null | grep -q '^pigz:' || echo "note: unpigz is not from the pigz package" >&2

say "rig (eng/rig.sh)"
# shellcheck source=/dev/null
source "$(timeout 900 "$root/eng/rig.sh")"
export DOTNET_CONTAINER_INSECURE_REGISTRIES="$ZC_REGISTRY"
snap="${ZC_CONTAINERD_SNAPSHOTTER:-overlayfs}"

run="$(mktemp -d /tmp/zcb-run.XXXXXX)"
mkdir -p "$run/logs" "$results"
jsonl="$run/results.jsonl"
: >"$jsonl"
pids=()
packed=()   # package versions this run packed (the jit section packs two more)
cleanup() {
  stop_pids
  node_disk_unmount "$run/node"
  if ((!keep)); then
    local v
    for v in "${packed[@]}"; do remove_package "$v"; done
  fi
  if ((keep)); then echo "run folder kept: $run" >&2; else remove_run_folder; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A section that fails is reported and the run goes on: the table shows what was measured.
# ZCB_SECTIONS="publish-a pulls" (a regex over section ids) runs only those: for developing the script.
selected() { [[ -z ${ZCB_SECTIONS:-} ]] || grep -qE "^(${ZCB_SECTIONS// /|})$" <<<"$1"; }
section() {
  local name=$1 id=$2; shift 2
  selected "$id" || return 0
  say "$name"
  recs "load.$id" "$(load)"
  set +e
  ( set -e; "$@" )
  local rc=$?
  set -e
  if ((rc != 0)); then
    echo "!! section '$name' failed (exit $rc); see $run/logs" >&2
    recs "error.$name" "failed with exit code $rc"
  fi
}

recs meta.date "$(date -u +%FT%TZ)"
recs meta.nproc "$(nproc)"
recs meta.cpu "$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
recs meta.ram "$(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
recs meta.kernel "$(uname -r)"
recs meta.sdk "$(dotnet --version)"
recs meta.commit "$(git -C "$root" rev-parse --short HEAD)$(git -C "$root" status --porcelain -- src | grep -q . && echo '+uncommitted src changes' || true)"
recs meta.containerd "$(containerd --version | awk '{ print $3 }')"
recs meta.zstd "$(zstd --version | sed -n 's/.*\(v[0-9.]*\).*/\1/p')"
recs meta.load_start "$(load)"
recs meta.quick "$quick"
recs meta.default_base_level "$(grep -rhoP 'DefaultBaseLevel = \K[0-9]+' "$root/src" | head -1)"
nproc_="$(nproc)"

# ------------------------------------------------------------------ 2. package and harness
say "pack"
version="0.1.0-bench.$(date +%Y%m%d%H%M%S)"
recs meta.version "$version"
packed+=("$version")
pack_package "$version" "$run/logs/pack.log"
say "harness (eng/bench/LayerBench)"
dotnet build "$here/LayerBench" -c Release -nologo -v:q -o "$run/layerbench" >"$run/logs/layerbench-build.log" 2>&1 ||
  { tail -20 "$run/logs/layerbench-build.log" >&2; die "LayerBench build failed"; }
layerbench="$run/layerbench/LayerBench"

# ------------------------------------------------------------------ 3. private registry + containerds
say "private registry and containerd x2"
seed_private_registry "$run/logs/registry.log"

# The daemons' root and state go on a journaled ext4 of their own, as a node's /var/lib/containerd
# (eng/lib/node-disk.sh: why the root file system here would add a per-file cost to every pull).
# ZCB_CONTAINERD_DISK=run keeps them in the run folder.
if [[ ${ZCB_CONTAINERD_DISK:-node} != run ]] && node_disk_mount "$run/node"; then
  cd_disk="$run/node"
  recs meta.containerd_disk "a journaled ext4 of its own (loop device, direct I/O; the root file system is $(root_fs_note))"
else
  cd_disk="$run"
  recs meta.containerd_disk "the run folder's file system ($(root_fs_note))"
fi

# start_containerd NAME PIGZ(0|1): own root/state/socket; prints the socket
start_containerd() {
  local name=$1 pigz=$2 d="$run/$1" bin
  mkdir -p "$d/bin" "$cd_disk/$name/root" "$cd_disk/$name/state" "$cd_disk/$name/opt"
  write_containerd_config "$d/config.toml" "$cd_disk/$name" "$d/containerd.sock"
  if ((pigz)); then
    bin="$PATH"
    command -v unpigz >/dev/null || die "unpigz not on PATH"
    (env -u CONTAINERD_DISABLE_PIGZ PATH="$bin" "$(command -v setsid)" "$(command -v containerd)" --config "$d/config.toml" \
      >"$run/logs/$name.log" 2>&1 </dev/null & echo $! >"$d/pid")
  else
    # A PATH with only what containerd may exec for a pull (no unpigz), and the documented switch.
    for c in containerd-shim-runc-v2 runc; do ln -sf "$(command -v "$c")" "$d/bin/$c"; done
    (env PATH="$d/bin" CONTAINERD_DISABLE_PIGZ=1 "$(command -v setsid)" "$(command -v containerd)" --config "$d/config.toml" \
      >"$run/logs/$name.log" 2>&1 </dev/null & echo $! >"$d/pid")
  fi
  wait_for 30 ctr -a "$d/containerd.sock" version || die "containerd $name did not start (log: $run/logs/$name.log)"
  tr '\0' ' ' <"/proc/$(<"$d/pid")/cmdline" | grep -q "containerd --config $d/config.toml" || die "pid file of $name does not name containerd"
}
start_containerd cd-inproc 0; pids+=("$(<"$run/cd-inproc/pid")")
start_containerd cd-pigz 1; pids+=("$(<"$run/cd-pigz/pid")")
SOCK_INPROC="$run/cd-inproc/containerd.sock"
SOCK_PIGZ="$run/cd-pigz/containerd.sock"

# ------------------------------------------------------------------ 4. projects and data
# (c) is only for the memory section: not set up when ZCB_SECTIONS leaves it out
apps="a b"; selected memory && apps="a b c"
say "data: ${DEPS_MB} MB$(selected memory && echo " and ${BIG_MB} MB") of mixed files (cached in $data)"
python3 "$lib/gen_data.py" "$data/deps-$DEPS_MB" "$DEPS_MB"
if selected memory; then python3 "$lib/gen_data.py" "$data/big-$BIG_MB" "$BIG_MB" --seed 2; fi

copy_sample_a "$run/a"
PROJ_a="$run/a/HelloZstd.csproj"; BASE_a="$BREG/dotnet/aspnet:10.0"

# (b) self-contained web app + ~100 MB of dependencies as 23 local NuGet packages (native assets,
# so the deps.json owns them as it owns a real app's packages), on the runtime-deps stand-in
app_project "$run/b" AppB "$data/deps-$DEPS_MB" "<RuntimeIdentifier>linux-x64</RuntimeIdentifier><SelfContained>true</SelfContained>" \
  "$(python3 "$lib/make_packages.py" "$data/deps-$DEPS_MB" "$run/deps-feed" linux-x64)"
PROJ_b="$run/b/AppB.csproj"; BASE_b="$BREG/dotnet/runtime-deps:10.0"
# (c) framework-dependent app + the big folder, for peak memory
if selected memory; then app_project "$run/c" AppBig "$data/big-$BIG_MB" ""; fi
PROJ_c="$run/c/AppBig.csproj"; BASE_c="$BREG/dotnet/aspnet:10.0"

say "restore and warm-up builds"
for x in $apps; do
  p="PROJ_$x"; b="BASE_$x"
  prepare_project "${!p}" "$version" "$x" -p:ContainerBaseImage="${!b}" -p:ContainerRegistry="$BREG"
done
PUB_b="$run/b/bin/Release/net10.0/linux-x64/publish"
rec size.a "$(du -sb "$run/a/bin/Release/net10.0/publish" | cut -f1)"
rec size.b "$(du -sb "$PUB_b" | cut -f1)"
if selected memory; then rec size.c "$(du -sb "$run/c/bin/Release/net10.0/publish" | cut -f1)"; fi

# publish APP COMPRESSION REPO CACHE LOGNAME [extra args]: one timed `dotnet publish -t:PublishContainer`.
# Prints "wall_seconds container_target_seconds". CACHE is both ContainerLayerCacheDirectory and,
# via XDG_CACHE_HOME, the default cache location (see the README: the property does not reach the
# image task in this version, so the environment is what keeps a cold run cold). With fresh_tmp=1
# TMPDIR is CACHE/tmp too: the SDK keeps its layer store under TMPDIR/Containers, and a fresh runner
# has none. APP's package version is VERSION_APP when set (the jit section's own packs), else $version.
# The image goes to DEST_REGISTRY when set (levels-empty: a registry without the base image), else $BREG.
fresh_tmp=0
publish() {
  local x=$1 comp=$2 repo=$3 cache=$4 name=$5; shift 5
  local p="PROJ_$x" b="BASE_$x" v="VERSION_$x" log="$run/logs/$name.log" t0 w target tmp=${TMPDIR:-/tmp} dest=${DEST_REGISTRY:-$BREG}
  mkdir -p "$cache"
  if ((fresh_tmp)); then tmp="$cache/tmp"; mkdir -p "$tmp"; fi
  t0=$(now)
  TMPDIR="$tmp" XDG_CACHE_HOME="$cache" dotnet publish "${!p}" -c Release --no-restore -nologo -nodeReuse:false -t:PublishContainer \
    -p:ZstdContainersVersion="${!v:-$version}" -p:ContainerBaseImage="${!b}" -p:ContainerRegistry="$dest" \
    -p:ContainerRepository="$repo" -p:ContainerLayerCompression="$comp" \
    -p:ContainerLayerCacheDirectory="$cache/zstdcontainers" -v:n -clp:PerformanceSummary "$@" >"$log" 2>&1 ||
    { tail -30 "$log" >&2; echo "publish $name failed (log: $log)" >&2; return 1; }
  w=$(elapsed "$t0")
  target=$(awk '/Target Performance Summary/ { f = 1 } f && $3 == "_PublishSingleContainer" { printf "%.3f", $1 / 1000; exit }' "$log")
  echo "$w ${target:-null}"
}
# timed KEY APP COMPRESSION REPO CACHE LOGNAME [extra args]: one publish; its wall time is a sample
# of publish.KEY and its container step one of target.KEY; prints both, for the progress lines
timed() {
  local key=$1 out w t; shift
  out=$(publish "$@") || return 1
  read -r w t <<<"$out"
  add_sample "publish.$key" "$w"; add_sample "target.$key" "$t"
  echo "$w s (container step $t s)"
}
actions() { # LOGNAME -> what happened to the base layers, e.g. "3 transcoded to zstd"
  grep -E '^\s*base layer sha256:[0-9a-f]+: .* -> ' "$run/logs/$1.log" |
    sed -E 's/^.*%\), //; s/, [^,]*$//; s/ \([^)]*\), not recompressed$//' | sort | uniq -c | awk '{ $1 = $1; print }' | paste -sd, -
}

# ------------------------------------------------------------------ 5a. publish-step time
# publish_state APP cold|warm: ours and the SDK's alternating, N_PUB each. Cold: a fresh cache and a
# new repository every run. Warm: the same repository and cache as a first (untimed) publish.
publish_state() {
  local x=$1 st=$2 i z g sfx=""
  if [[ $st == warm ]]; then
    publish "$x" zstd "bench/$x-zstd-warm" "$run/cache/$x-warm" "$x-zstd-warm-prime" >/dev/null
    publish "$x" gzip "bench/$x-gzip-warm" "$run/cache/$x-gzip" "$x-gzip-warm-prime" >/dev/null
  fi
  for ((i = 1; i <= N_PUB; i++)); do
    [[ $st == cold ]] && sfx="-$i"
    z=$(timed "$x.zstd.$st" "$x" zstd "bench/$x-zstd-$st$sfx" "$run/cache/$x-$st$sfx" "$x-zstd-$st-$i")
    recs "verify.$x.zstd.$st.$i" "$(actions "$x-zstd-$st-$i")"
    g=$(timed "$x.gzip.$st" "$x" gzip "bench/$x-gzip-$st$sfx" "$run/cache/$x-gzip" "$x-gzip-$st-$i")
    echo "  ($x) $st run $i: zstd $z; gzip $g" >&2
  done
  if [[ $st == warm ]]; then # the per-layer lines of the last warm zstd publish, for the profile
    grep -E '^\s+(base|app) layer|uploaded [0-9]+ of|Pushed ' "$run/logs/$x-zstd-warm-$N_PUB.log" | sed 's/^ *//' >"$run/logs/$x-zstd-warm-layers.txt" || true
  fi
}
publish_times() { publish_state "$1" cold && publish_state "$1" warm; }
# ensure_warm APP: the warm images and cache the pull and memory sections use, published (untimed)
# when the publish section of APP did not run
ensure_warm() {
  local comp cache
  for comp in zstd gzip; do
    image_bytes "bench/$1-$comp-warm:latest" >/dev/null 2>&1 && continue
    cache="$run/cache/$1-warm"; [[ $comp == gzip ]] && cache="$run/cache/$1-gzip"
    publish "$1" "$comp" "bench/$1-$comp-warm" "$cache" "$1-$comp-warm-prime" >/dev/null
  done
}
section "publish (a) HelloZstd" publish-a publish_times a
section "publish (b) self-contained + ${DEPS_MB} MB" publish-b publish_times b

# ------------------------------------------------------------------ 5b. image bytes per level
level_bytes() {
  local x=$1 l cfg applied
  ensure_warm "$x"
  rec "bytes.$x.gzip" "$(image_bytes "bench/$x-gzip-warm:latest")"
  for l in $LEVELS; do
    if [[ $l == 3 ]]; then
      ref="bench/$x-zstd-warm:latest"
    else
      publish "$x" zstd "bench/$x-zstd-l$l" "$run/cache/L$l" "$x-zstd-L$l" -p:ContainerLayerCompressionLevel="$l" >/dev/null
      ref="bench/$x-zstd-l$l:latest"
    fi
    rec "bytes.$x.zstd.L$l" "$(image_bytes "$ref")"
    # our config's history names the level the layers were written at
    cfg=$(skopeo inspect --config --raw --tls-verify=false "docker://$BREG/$ref")
    applied=$(jq -r --arg l "zstd level $l" '[.history[]? | (.created_by // "") + (.comment // "") | contains($l)] | any' <<<"$cfg")
    rec "applied.$x.L$l" "$applied"
    if [[ $applied != true ]]; then
      echo "  ($x) level $l did not reach the image task; projecting with the library (LayerBench)" >&2
      project_bytes "$x" "$l" "$ref"
    fi
  done
}
# What the image would weigh at level L: the base layers through BaseLayerTranscoder and the
# publish folder through DirectoryLayerWriter + ZstdBlobWriter at L, plus the config we pushed.
project_bytes() {
  local x=$1 l=$2 ref=$3 b="BASE_$x" base pub mf cfg args=() i n digest diff total app cfgsize repo
  base=${!b}
  repo=$(sed -E 's|^[^/]+/||; s|:[^:]*$||' <<<"$base")   # 127.0.0.1:PORT/dotnet/aspnet:10.0 -> dotnet/aspnet
  pub=$(case $x in a) echo "$run/a/bin/Release/net10.0/publish" ;; b) echo "$PUB_b" ;; esac)
  mf=$(skopeo inspect --raw --tls-verify=false "docker://$base")
  if jq -e .manifests >/dev/null <<<"$mf"; then
    mf=$(skopeo inspect --raw --tls-verify=false "docker://$BREG/$repo@$(jq -r '.manifests[] | select(.platform.architecture == "amd64") | .digest' <<<"$mf")")
  fi
  cfg=$(curl -fsS "http://$BREG/v2/$repo/blobs/$(jq -r .config.digest <<<"$mf")")
  n=$(jq '.layers | length' <<<"$mf")
  mkdir -p "$run/blobs"
  for ((i = 0; i < n; i++)); do
    digest=$(jq -r ".layers[$i].digest" <<<"$mf"); diff=$(jq -r ".rootfs.diff_ids[$i]" <<<"$cfg")
    [[ -s $run/blobs/${digest#sha256:} ]] ||
      curl -fsS -o "$run/blobs/${digest#sha256:}" "http://$BREG/v2/$repo/blobs/$digest"
    args+=(--layer "$run/blobs/${digest#sha256:}" "$digest" "$diff")
  done
  total=$("$layerbench" transcode --level "$l" "${args[@]}" | tee "$run/logs/$x-project-L$l.jsonl" | tail -1 | jq .zstdBytes)
  app=$("$layerbench" layer --dir "$pub" --level "$l" --warmup 0 --iterations 1 | tail -1 | jq .blobBytes)
  cfgsize=$(skopeo inspect --raw --tls-verify=false "docker://$BREG/$ref" | jq .config.size)
  rec "projected.$x.L$l" "$((total + app + cfgsize))"
}
section "image bytes (a)" bytes-a level_bytes a
section "image bytes (b)" bytes-b level_bytes b

# ------------------------------------------------------------------ 5c. containerd cold pull+unpack
drop_caches() { sync; echo 3 >/proc/sys/vm/drop_caches 2>/dev/null || return 1; }
if drop_caches; then rec meta.drop_caches true; else rec meta.drop_caches false; fi
pull_once() { # SOCK REF -> seconds
  local sock=$1 ref=$2 t0
  empty "$sock" || return 1
  drop_caches || true
  t0=$(now)
  # (called where set -e does not apply: a failed pull must not pass for a fast one)
  ctr -a "$sock" images pull --plain-http --snapshotter "$snap" "$ref" >/dev/null 2>>"$run/logs/pulls.log" ||
    { echo "pull of $ref failed (log: $run/logs/pulls.log)" >&2; return 1; }
  elapsed "$t0"
}
# empty SOCK: removes every image, then checks that no content and no snapshot is left.
empty() {
  local sock=$1 img i
  for i in 1 2 3; do
    for img in $(ctr -a "$sock" images ls -q); do
      ctr -a "$sock" images rm --sync "$img" >>"$run/logs/pulls.log" 2>&1 || true
    done
    ctr -a "$sock" content prune references >>"$run/logs/pulls.log" 2>&1 || true
    if [[ -z $(ctr -a "$sock" content ls | tail -n +2) && -z $(ctr -a "$sock" snapshots --snapshotter "$snap" ls | tail -n +2) ]]; then
      return 0
    fi
    sleep 1
  done
  { echo "leftovers in $sock:"; ctr -a "$sock" images ls; ctr -a "$sock" content ls; ctr -a "$sock" snapshots --snapshotter "$snap" ls; } >>"$run/logs/pulls.log" 2>&1
  echo "leftover content or snapshots in $sock (see $run/logs/pulls.log)" >&2
  return 1
}
pigz_check() { # proves the pigz daemon execs unpigz (and the other does not) while unpacking gzip
  local ref="$BREG/bench/a-gzip-warm:latest" sock pid seen name
  ensure_warm a
  for name in cd-pigz cd-inproc; do
    sock="$run/$name/containerd.sock"; pid=$(<"$run/$name/pid"); seen=false
    empty "$sock"
    ctr -a "$sock" images pull --plain-http --snapshotter "$snap" "$ref" >/dev/null 2>>"$run/logs/pulls.log" &
    local puller=$!
    while kill -0 "$puller" 2>/dev/null; do
      if pgrep -P "$pid" -x unpigz >/dev/null; then seen=true; fi
      sleep 0.02
    done
    wait "$puller"
    rec "pigz_seen.$name" "$seen"
  done
}
# pull_sample KEY SOCK REF: one cold pull, a sample of KEY; prints its seconds
pull_sample() { local t; t=$(pull_once "$2" "$3") || return 1; add_sample "$1" "$t"; echo "$t"; }
pulls() {
  local x=$1 i gi gp zi
  ensure_warm "$x"
  for ((i = 1; i <= N_PULL; i++)); do
    gi=$(pull_sample "pull.$x.gzip.inproc" "$SOCK_INPROC" "$BREG/bench/$x-gzip-warm:latest")
    gp=$(pull_sample "pull.$x.gzip.pigz" "$SOCK_PIGZ" "$BREG/bench/$x-gzip-warm:latest")
    zi=$(pull_sample "pull.$x.zstd.inproc" "$SOCK_INPROC" "$BREG/bench/$x-zstd-warm:latest")
    echo "  ($x) pull $i: gzip in-process $gi / gzip unpigz $gp / zstd $zi s" >&2
  done
}
section "pigz check" pigz pigz_check
section "pull+unpack (a)" pulls-a pulls a
section "pull+unpack (b)" pulls-b pulls b

# ------------------------------------------------------------------ 5c'. redeploy of (b) after a one-line change
# v1 is published and a node runs it; the code changes by one line; v2 is published to the same
# repository and the node pulls v2. Measured for ours (layers split by origin) and the SDK's:
# bytes the publish uploads (v2's blobs that the repository did not hold: both clients skip a blob
# the registry has), bytes the node fetches (blobs new in containerd's content store after the v2
# pull), the time of that pull (v1 present, page cache dropped) and the redeploy's publish time.
N_REDEPLOY=${ZCB_REDEPLOY_RUNS:-$N_PUB} N_REDEPLOY_PULLS=${ZCB_REDEPLOY_PULLS:-$N_PULL}
new_bytes() { python3 "$lib/registry.py" new-bytes "$BREG" "$1" "$2"; } # OLD_REF NEW_REF -> bytes of NEW's blobs OLD lacks
node_update() { # SOCK V1 V2 -> "seconds fetched_bytes": pull V2 with V1 present, caches dropped
  local sock=$1 v1=$2 v2=$3 before t0 w added
  empty "$sock" || return 1
  ctr -a "$sock" images pull --plain-http --snapshotter "$snap" "$BREG/$v1" >/dev/null 2>>"$run/logs/pulls.log" || return 1
  before=$(ctr -a "$sock" content ls -q | sort)
  drop_caches || true
  t0=$(now)
  ctr -a "$sock" images pull --plain-http --snapshotter "$snap" "$BREG/$v2" >/dev/null 2>>"$run/logs/pulls.log" || return 1
  w=$(elapsed "$t0")
  # every blob the pull added to the content store, sized by v2's manifest (the manifest itself too)
  mapfile -t added < <(comm -13 <(echo "$before") <(ctr -a "$sock" content ls -q | sort))
  echo "$w $(python3 "$lib/registry.py" blob-bytes "$BREG" "$v2" "${added[@]}")"
}
redeploy() {
  local i comp w t out up
  for comp in zstd gzip; do
    set_code "$run/b" "hello r0"
    publish b "$comp" "bench/b-redeploy-$comp" "$run/cache/b-redeploy" "b-redeploy-$comp-r0" -p:ContainerImageTag=r0 >/dev/null
  done
  for ((i = 1; i <= N_REDEPLOY; i++)); do
    set_code "$run/b" "hello r$i"
    for comp in zstd gzip; do
      # Each redeploy pushes a new tag, as CI does; ours names the previous one as its layer cache, as
      # the CI samples do, so unchanged app layers are taken from the registry (the SDK ignores it).
      out=$(publish b "$comp" "bench/b-redeploy-$comp" "$run/cache/b-redeploy" "b-redeploy-$comp-r$i" -p:ContainerImageTag="r$i" \
        -p:ContainerLayerCacheFrom="bench/b-redeploy-$comp:r$((i - 1))"); read -r w t <<<"$out"
      up=$(new_bytes "bench/b-redeploy-$comp:r$((i - 1))" "bench/b-redeploy-$comp:r$i")
      add_sample "redeploy.b.$comp.publish" "$w"; add_sample "redeploy.b.$comp.uploaded" "$up"
      echo "  (b) redeploy $i, $comp: $w s, $up B up" >&2
    done
  done
  set_code "$run/b" "hello"
  rec redeploy.b.zstd.layers "$(skopeo inspect --raw --tls-verify=false "docker://$BREG/bench/b-redeploy-zstd:r1" | jq '.layers | length')"
  recs redeploy.b.zstd.summary "$(grep -oE 'app layers [^)]*' "$run/logs/b-redeploy-zstd-r1.log" | head -1)"
  for ((i = 1; i <= N_REDEPLOY_PULLS; i++)); do
    for comp in zstd gzip; do
      read -r w t <<<"$(node_update "$SOCK_INPROC" "bench/b-redeploy-$comp:r0" "bench/b-redeploy-$comp:r1")"
      add_sample "redeploy.b.$comp.pull" "$w"; add_sample "redeploy.b.$comp.fetched" "$t"
      echo "  (b) node update $i, $comp: $w s, $t B fetched" >&2
    done
  done
  rec redeploy.b.zstd.image "$(image_bytes bench/b-redeploy-zstd:r1)"; rec redeploy.b.gzip.image "$(image_bytes bench/b-redeploy-gzip:r1)"
}
section "redeploy (b) after a one-line change" redeploy-b redeploy

# ------------------------------------------------------------------ 5c''. issue 12: CI runners, warm machine, links, base levels, JIT
RATE=${ZCB_RATE:-400mbit}
# revise DIR TEXT: a one-line code change (a file of its own, so the sample's Program.cs stays as it is)
revise() { echo "static class Revision { public const string Text = \"$2\"; }" >"$1/Revision.cs"; }
warm_up() { # APP: the untimed publish that brings APP's build up to date after a change
  local p="PROJ_$1" b="BASE_$1"
  warm_up_project "${!p}" "$version" "$1" -p:ContainerBaseImage="${!b}" -p:ContainerRegistry="$BREG"
}
app_actions() { # LOGNAME -> "N of M app layers from the registry"
  local all reused
  all=$(grep -cE '^\s+app layer' "$run/logs/$1.log" || true)
  # "tar unchanged" (hashed) or "files unchanged since the last publish" (recognised from the obj/ record)
  reused=$(grep -cE '^\s+app layer.*unchanged.*zstd from the registry' "$run/logs/$1.log" || true)
  echo "$reused of $all app layers from the registry"
}

# A fresh CI runner redeploying: the previous image of the project is in the registry under the tag
# being pushed, the code changed by one line since, the build is up to date (--no-restore after a
# warm-up publish, as everywhere), and the runner has no layer cache (new ContainerLayerCacheDirectory,
# XDG_CACHE_HOME and TMPDIR, so the SDK's layer store is empty too). Ours finds the base layers (and
# unchanged app layers) in the registry by diff_id; the log says so, and the table shows it.
coldrunner() {
  local x=$1 i comp w p="PROJ_$1" dir
  dir=$(dirname "${!p}")
  fresh_tmp=1
  revise "$dir" r0; warm_up "$x"
  ensure_warm "$x" # fills the warm caches, so the untimed publish of the previous image is quick
  for comp in zstd gzip; do # the previous image, untimed (the runner before this one)
    publish "$x" "$comp" "bench/$x-cr-$comp" "$run/cache/$x-$([[ $comp == zstd ]] && echo warm || echo gzip)" "$x-cr-$comp-r0" >/dev/null
  done
  for ((i = 1; i <= N_PUB; i++)); do
    revise "$dir" "r$i"; warm_up "$x"
    for comp in $( ((i % 2)) && echo zstd gzip || echo gzip zstd); do
      w=$(timed "coldrunner.$x.$comp" "$x" "$comp" "bench/$x-cr-$comp" "$run/cache/$x-cr-$comp-$i" "$x-cr-$comp-r$i")
      echo "  ($x) cold runner $i, $comp: $w" >&2
    done
    recs "verify.coldrunner.$x.$i" "base: $(actions "$x-cr-zstd-r$i"); app: $(app_actions "$x-cr-zstd-r$i")"
  done
  rm -f "$dir/Revision.cs"; warm_up "$x"
}
section "cold CI runner (a), previous image in the registry" coldrunner-a coldrunner a
section "cold CI runner (b), previous image in the registry" coldrunner-b coldrunner b

# Warm machine, app (b), output unchanged: the warm cell of publish-b (a first publish fills the cache
# and the repository, the timed ones change nothing). Measured here only when publish-b did not run.
warm_b() {
  if selected publish-b; then echo "  measured by the publish-b section (its warm cell)" >&2; return 0; fi
  publish_state b warm
}
section "warm machine (b), output unchanged" warm-b warm_b

# shaped_pulls: the pulls of the pull+unpack sections (SDK image decoded in-process, ours), with the
# private registry's port limited to $RATE on loopback (eng/lib/shaping.sh: tc htb on that port only,
# removed on every exit of this section's shell). The unshaped figures are the pulls-a/pulls-b cells.
shaped_pulls() {
  local x i gi zi
  for x in a b; do ensure_warm "$x"; done
  # This section runs in a subshell, which shows the main shell's traps: clear them, so shaping.sh
  # installs its own (shaping_off on EXIT, INT and TERM) and the run's cleanup stays in the main shell.
  trap - EXIT INT TERM
  shaping_on "${BREG##*:}" "$RATE" || return 1
  recs shaped.rate "$RATE"
  for ((i = 1; i <= N_PULL; i++)); do
    for x in a b; do
      gi=$(pull_sample "pull.$x.gzip.inproc.shaped" "$SOCK_INPROC" "$BREG/bench/$x-gzip-warm:latest")
      zi=$(pull_sample "pull.$x.zstd.inproc.shaped" "$SOCK_INPROC" "$BREG/bench/$x-zstd-warm:latest")
      echo "  ($x) pull $i at $RATE: gzip in-process $gi / zstd $zi s" >&2
    done
  done
  shaping_off
}
section "pull+unpack at $RATE (a), (b)" shaped-pulls shaped_pulls

# levels: app (a) on the stand-in aspnet base, per ContainerBaseLayerCompressionLevel (the app layer at
# its default level): image bytes, first publish (empty cache, new repository: nothing to find in the
# registry) against the SDK's first publish, and pull + unpack, unshaped and at $RATE.
levels() {
  local l i w n pulls
  fresh_tmp=1
  for ((i = 1; i <= N_PUB; i++)); do
    for l in $LEVELS; do
      # level 19 takes about a minute on 2 cores: once
      [[ $l == 19 ]] && ((i > 1)) && continue
      w=$(timed "levels.a.L$l" a zstd "bench/a-level$l-$i" "$run/cache/a-level$l-$i" "a-level$l-$i" -p:ContainerBaseLayerCompressionLevel="$l")
      recs "verify.levels.a.L$l.$i" "$(actions "a-level$l-$i")"
      echo "  (a) first publish $i, base level $l: $w" >&2
    done
    w=$(timed levels.a.gzip a gzip "bench/a-level-gzip-$i" "$run/cache/a-level-gzip-$i" "a-level-gzip-$i")
    echo "  (a) first publish $i, SDK: $w" >&2
  done
  for l in $LEVELS; do rec "levels.a.L$l.bytes" "$(image_bytes "bench/a-level$l-1")"; done
  rec levels.a.gzip.bytes "$(image_bytes bench/a-level-gzip-1)"
  level_pulls() { # SUFFIX: N_PULL cold pulls of each level's image and the SDK's, interleaved
    for ((n = 1; n <= N_PULL; n++)); do
      pulls="  pull $n$1:"
      for l in $LEVELS; do pulls+=" L$l $(pull_sample "levels.pull.a.L$l$1" "$SOCK_INPROC" "$BREG/bench/a-level$l-1:latest")"; done
      pulls+=" SDK $(pull_sample "levels.pull.a.gzip$1" "$SOCK_INPROC" "$BREG/bench/a-level-gzip-1:latest")"
      echo "$pulls s" >&2
    done
  }
  level_pulls ""
  trap - EXIT INT TERM # see shaped_pulls
  shaping_on "${BREG##*:}" "$RATE" || return 1
  level_pulls .shaped
  shaping_off
}
section "base layer levels (a): bytes, first publish, pull" levels levels

# levels-empty: the first publish of (a) to an EMPTY registry, the case issue 12 names (the base image
# comes from one registry, Microsoft's, and the image goes to another, the team's). Each publish gets a
# registry of its own, started empty on another loopback port (the base stays in $BREG): the SDK
# cannot mount the base layers there, so it downloads them (into its content store, which a fresh
# XDG_CACHE_HOME and TMPDIR keep empty) and uploads them; ours downloads, recompresses and uploads
# them, with an empty layer cache. Ours at EMPTY_LEVELS (below) and the SDK's
# alternate, N_PUB each. The levels section's first publish (same registry, new repository: the SDK
# mounts) is the other half of the comparison.
# the default level, level 3 and level 9 (the default before it was chosen by this measurement)
EMPTY_LEVELS=${ZCB_EMPTY_LEVELS:-"$(printf '%s\n' "$(grep -rhoP 'DefaultBaseLevel = \K[0-9]+' "$root/src" | head -1)" 3 9 | awk '!seen[$0]++' | paste -sd' ')"}
levels_empty() {
  local i l who w
  fresh_tmp=1
  # one_empty NAME KEY ARGS...: a fresh registry, one timed publish into it, the registry stopped and
  # deleted. Runs in its own shell (called as $(...)), which owns the registry and stops it on any exit.
  one_empty() {
    # pids: this shell's own list (start_private_registry appends the registry to it), so the trap
    # stops that registry alone, never the run's; ereg_pid outlives the function for the trap
    local name=$1 key=$2 out ereg pids=(); shift 2
    ereg_pid="" ereg_dir="$run/empty-$name"
    rm -rf "$ereg_dir"
    trap '[[ -z $ereg_pid ]] || { kill "$ereg_pid" 2>/dev/null; wait "$ereg_pid" 2>/dev/null; }; rm -rf "$ereg_dir"' EXIT
    start_private_registry "$ereg_dir" "$run/logs/registry-empty-$name.log" || return 1
    ereg_pid=${pids[-1]} ereg=$PRIVATE_REGISTRY
    [[ $(curl -fsS "http://$ereg/v2/_catalog") == '{"repositories":[]}' ]] || { echo "registry $ereg is not empty" >&2; return 1; }
    # the SDK splits this list on ';' (ours also treats loopback as plain HTTP)
    out=$(DEST_REGISTRY="$ereg" DOTNET_CONTAINER_INSECURE_REGISTRIES="$BREG;$ereg" timed "$key" "$@") || return 1
    echo "$out"
  }
  for ((i = 1; i <= N_PUB; i++)); do
    for who in $( ((i % 2)) && echo "$EMPTY_LEVELS sdk" || echo "sdk $EMPTY_LEVELS"); do
      if [[ $who == sdk ]]; then
        w=$(one_empty "gzip-$i" levels.empty.a.gzip a gzip "bench/a-empty" "$run/cache/a-empty-gzip-$i" "a-empty-gzip-$i") || return 1
        # the SDK downloads every base layer into its content store (XDG_CACHE_HOME/dotnet/Containers/Content
        # in 10.0.401), next to its app layer, and uploads them all: count both
        recs "verify.levels.empty.a.gzip.$i" "$(grep -c 'Finished uploading layer' "$run/logs/a-empty-gzip-$i.log" || true) layers uploaded, $(find "$run/cache/a-empty-gzip-$i" -name '*.tar.gz' | wc -l) layer blobs in its content store afterwards"
        echo "  (a) first publish $i to an empty registry, SDK: $w" >&2
      else
        l=$who
        w=$(one_empty "L$l-$i" "levels.empty.a.L$l" a zstd "bench/a-empty" "$run/cache/a-empty-L$l-$i" "a-empty-L$l-$i" \
          -p:ContainerBaseLayerCompressionLevel="$l") || return 1
        recs "verify.levels.empty.a.L$l.$i" "$(actions "a-empty-L$l-$i")"
        echo "  (a) first publish $i to an empty registry, base level $l: $w" >&2
      fi
    done
  done
}
section "first publish of (a) to an empty registry" levels-empty levels_empty

# jit: what the task's cold JIT costs. The package is packed twice, with and without ReadyToRun
# (ZstdContainersReadyToRun), each into a copy of (a); then, alternating, N_PUB warm publishes
# (cache and repository filled, nothing to compress: the container step is mostly start-up and JIT)
# and N_PUB cold ones (empty cache, new repository: the base layers go through the encoder).
# Whether each pack really holds ReadyToRun code is recorded (lib/r2r.py).
jit_versions=("$version-jit" "$version-r2r")
packed+=("${jit_versions[@]}")
jit() {
  local mode i st w v
  for mode in jit r2r; do
    v="$version-$mode"
    pack_package "$v" "$run/logs/pack-$mode.log" -p:ZstdContainersReadyToRun="$([[ $mode == r2r ]] && echo true || echo false)"
    rec "jit.$mode.readytorun" "$(python3 "$lib/r2r.py" "$root/artifacts/packages/ZstdContainers.$v.nupkg")"
    copy_sample_a "$run/jit-$mode"
    printf -v "PROJ_jit$mode" '%s' "$run/jit-$mode/HelloZstd.csproj"
    printf -v "BASE_jit$mode" '%s' "$BASE_a"
    printf -v "VERSION_jit$mode" '%s' "$v"
    prepare_project "$run/jit-$mode/HelloZstd.csproj" "$v" "jit-$mode" -p:ContainerBaseImage="$BASE_a" -p:ContainerRegistry="$BREG"
  done
  # warm: (a)'s warm cache (the same base layers at the same level), the repository of an untimed publish
  ensure_warm a
  for mode in jit r2r; do publish "jit$mode" zstd "bench/a-jit-$mode" "$run/cache/a-warm" "jit-$mode-prime" >/dev/null; done
  for ((i = 1; i <= N_PUB; i++)); do
    for mode in $( ((i % 2)) && echo jit r2r || echo r2r jit); do
      w=$(timed "jit.$mode.warm" "jit$mode" zstd "bench/a-jit-$mode" "$run/cache/a-warm" "jit-$mode-warm-$i")
      echo "  (a) warm, $mode: $w" >&2
      w=$(timed "jit.$mode.cold" "jit$mode" zstd "bench/a-jit-$mode-cold-$i" "$run/cache/jit-$mode-cold-$i" "jit-$mode-cold-$i")
      echo "  (a) cold, $mode: $w" >&2
    done
  done
}
section "task JIT: ReadyToRun package against IL only" jit jit

# ------------------------------------------------------------------ 5d. layer-build throughput
# native_once NAME CMD: one hyperfine run (no shell: `bash -c` runs the pipe), prints seconds
native_once() {
  hyperfine -N --style none --runs 1 --export-json "$run/logs/$1.json" "$2" >/dev/null 2>&1 &&
    jq '.results[0].median' "$run/logs/$1.json"
}
# ours_once KEY ARGS...: LayerBench with one warm-up and one timed iteration in a fresh process;
# records the timed iteration under KEY and the warm-up (first run, with JIT) under KEY.first
ours_once() {
  local key=$1 out; shift
  out=$("$layerbench" layer --warmup 1 --iterations 1 "$@")
  add_sample "$key.first" "$(head -1 <<<"$out")"
  add_sample "$key" "$(sed -n 2p <<<"$out")"
}
# Ours and native alternate, run after run, so a change in the machine's load hits both alike.
# Every sample is recorded as it is; report.py takes the medians and the MB/s.
throughput() {
  local l i tarbytes tarsize native
  tarbytes=$(tar -C "$PUB_b" -cf - . | wc -c)
  tar -C "$PUB_b" -cf "$run/b.tar" .
  tarsize=$(stat -c %s "$run/b.tar")
  native="tar -C $PUB_b -cf - . | zstd -q -T$nproc_"
  native_once tp-native-warmup "bash -c '$native -3 -o $run/native.zst -f'" >/dev/null
  for l in 3 9; do
    for ((i = 1; i <= N_TP; i++)); do
      ours_once "tp.ours.L$l" --dir "$PUB_b" --level "$l"
      add_sample "tp.native.L$l" seconds="$(native_once "tp-native-L$l-$i" "bash -c '$native -$l -o $run/native.zst -f'")" \
        tarBytes="$tarbytes" blobBytes="$(stat -c %s "$run/native.zst")"
    done
  done
  # the same work split up, to see where our time goes (level 3), again alternating
  for ((i = 1; i <= N_TP; i++)); do
    ours_once tp.ours.tar --dir "$PUB_b" --mode tar
    ours_once tp.ours.tarhash --dir "$PUB_b" --mode tarhash
    ours_once tp.ours.zstd-from-tar --dir "$run/b.tar" --mode zstd --level 3
    add_sample tp.native.zstd-from-tar seconds="$(native_once "tp-native-zstd-only-$i" "zstd -q -T$nproc_ -3 $run/b.tar -o $run/native.zst -f")" \
      tarBytes="$tarsize"
  done
  rm -f "$run/b.tar" "$run/native.zst"
}
section "layer-build throughput" throughput throughput

# ------------------------------------------------------------------ 5e. peak memory, big folder
memory() {
  local comp timef
  ensure_warm a
  # ours runs with the base layers already in the cache ((a)'s warm cache: the same aspnet base)
  # baseline: the same dotnet publish without the container step (MSBuild evaluating and
  # up-to-date-checking the project and its files), to see what the image task adds
  python3 "$lib/rss_sampler.py" --json "$run/logs/rss-baseline.json" -- /usr/bin/time -v -o "$run/logs/rss-baseline.time" \
    dotnet publish "$PROJ_c" -c Release --no-restore -nologo -nodeReuse:false -maxcpucount:1 \
    -p:ZstdContainersVersion="$version" -v:n >"$run/logs/rss-baseline.log" 2>&1
  python3 "$lib/stats.py" "$jsonl" timev rss.baseline "$run/logs/rss-baseline.json" "$run/logs/rss-baseline.time"
  for comp in zstd gzip; do
    timef="$run/logs/rss-$comp.time"
    python3 "$lib/rss_sampler.py" --json "$run/logs/rss-$comp.json" -- /usr/bin/time -v -o "$timef" \
      env XDG_CACHE_HOME="$run/cache/a-warm" dotnet publish "$PROJ_c" -c Release --no-restore -nologo -nodeReuse:false -maxcpucount:1 \
      -t:PublishContainer -p:ZstdContainersVersion="$version" -p:ContainerBaseImage="$BASE_c" -p:ContainerRegistry="$BREG" \
      -p:ContainerRepository="bench/c-$comp-rss" -p:ContainerLayerCompression="$comp" \
      -p:ContainerLayerCacheDirectory="$run/cache/a-warm/zstdcontainers" -v:n >"$run/logs/rss-$comp.log" 2>&1 ||
      { tail -20 "$run/logs/rss-$comp.log" >&2; return 1; }
    python3 "$lib/stats.py" "$jsonl" timev "rss.$comp" "$run/logs/rss-$comp.json" "$timef"
  done
  "$layerbench" layer --dir "$run/c/bin/Release/net10.0/publish" --level 3 --warmup 0 --iterations 1 >"$run/logs/rss-harness.jsonl"
  rec rss.harness "$(tail -1 "$run/logs/rss-harness.jsonl")"
}
section "peak memory (${BIG_MB} MB folder)" memory memory

# ------------------------------------------------------------------ report
recs meta.load_end "$(load)"
say "report"
# a smoke run never replaces the published table
name=latest; ((quick)) && name=quick
cp "$jsonl" "$results/$name.jsonl"
python3 "$lib/report.py" "$results/$name.jsonl" "$results/$name.md" "$results/$name.svg"
cat "$results/$name.md"
echo "written: $results/$name.md, $results/$name.svg, $results/$name.jsonl" >&2
