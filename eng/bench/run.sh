#!/usr/bin/env bash
# The benchmark: ZstdContainers (zstd) against the SDK alone (gzip) and the native zstd CLI, side by
# side in one run, on this machine. Writes eng/bench/results/latest.md (table + machine),
# latest.svg (chart) and latest.json (every sample).
#
#   eng/bench/run.sh            full run (11-20 minutes on a 2-core machine once the rig exists)
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
#   5. measures (see eng/bench/README.md for the methods) and writes the report.
# Everything it starts (registry, containerd x2) is stopped by pid on exit; the run folder is
# deleted unless --keep. Generated data is cached in ${ZCB_DATA:-/tmp/zstdcontainers-bench-data}.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/../.." && pwd -P)"
lib="$here/lib"
source "$root/eng/lib/containerd-config.sh"
source "$root/eng/lib/private-registry.sh"
source "$root/eng/lib/nuget-config.sh"
results="$here/results"

quick=0 keep=0
for a in "$@"; do
  case $a in
    --quick) quick=1 ;;
    --keep) keep=1 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) echo "run.sh: unknown argument '$a' (use --quick, --keep)" >&2; exit 2 ;;
  esac
done

if ((quick)); then
  N_PUB=1 N_PULL=2 N_TP=1 LEVELS="3 9" BIG_MB=400
else
  N_PUB=3 N_PULL=5 N_TP=3 LEVELS="3 9 19" BIG_MB=2000
fi
DEPS_MB=100
data="${ZCB_DATA:-/tmp/zstdcontainers-bench-data}"

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_CLI_USE_MSBUILD_SERVER=0 MSBUILDDISABLENODEREUSE=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '\n== %s  [%s]\n' "$*" "$(date -u +%T)" >&2; }
die() { echo "run.sh: $*" >&2; exit 1; }
now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
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
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
  # the package this run packed: from the local feed and from NuGet's global packages folder
  if [[ -n ${version:-} ]] && ((!keep)); then
    rm -f "$root/artifacts/packages/ZstdContainers.$version.nupkg"
    rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/zstdcontainers/$version"
  fi
  if ((keep)); then
    echo "run folder kept: $run" >&2
  else
    # containerd may leave overlay mounts behind if killed mid-pull; never rm through a mount
    awk -v d="$run" 'index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r | xargs -r -n1 umount -l 2>/dev/null || true
    rm -rf "$run"
  fi
}
trap cleanup EXIT

# rec KEY JSON: one result, appended to results.jsonl (report.py reads it).
rec() { jq -cn --arg k "$1" --argjson v "$2" '{k: $k, v: $v}' >>"$jsonl"; }
recs() { rec "$1" "$(jq -cn --arg s "$2" '$s')"; }
# samples KEY v1 v2 ...: a list of numbers
samples() { local k=$1; shift; rec "$k" "$(printf '%s\n' "$@" | jq -cs .)"; }

# A section that fails is reported and the run goes on: the table shows what was measured.
# ZCB_SECTIONS="publish-a pulls" (a regex over section ids) runs only those: for developing the script.
section() {
  local name=$1 id=$2; shift 2
  if [[ -n ${ZCB_SECTIONS:-} ]] && ! grep -qE "^(${ZCB_SECTIONS// /|})$" <<<"$id"; then return 0; fi
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

load() { cut -d' ' -f1-3 /proc/loadavg; }
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
nproc_="$(nproc)"

# ------------------------------------------------------------------ 2. package and harness
say "pack"
version="0.1.0-bench.$(date +%Y%m%d%H%M%S)"
recs meta.version "$version"
dotnet pack "$root/src/ZstdContainers.Tasks" -c Release -o "$root/artifacts/packages" -p:Version="$version" -nologo -v:q \
  >"$run/logs/pack.log" 2>&1 || { tail -20 "$run/logs/pack.log" >&2; die "dotnet pack failed"; }
say "harness (eng/bench/LayerBench)"
dotnet build "$here/LayerBench" -c Release -nologo -v:q -o "$run/layerbench" >"$run/logs/layerbench-build.log" 2>&1 ||
  { tail -20 "$run/logs/layerbench-build.log" >&2; die "LayerBench build failed"; }
layerbench="$run/layerbench/LayerBench"

# ------------------------------------------------------------------ 3. private registry + containerds
say "private registry and containerd x2"
start_private_registry "$run" "$run/logs/registry.log" || die "private registry did not start (log: $run/logs/registry.log)"
BREG=$PRIVATE_REGISTRY
# The SDK talks plain HTTP only to the registries listed here (one name; it does not split on ",").
export DOTNET_CONTAINER_INSECURE_REGISTRIES="$BREG"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$run/policy.json"
skopeo --policy "$run/policy.json" copy -q --all --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
  "docker://$ZC_REGISTRY/dotnet/aspnet:10.0" "docker://$BREG/dotnet/aspnet:10.0"
python3 "$lib/registry.py" runtime-deps "$BREG" dotnet/aspnet:10.0 dotnet/runtime-deps:10.0 >/dev/null

# start_containerd NAME PIGZ(0|1): own root/state/socket; prints the socket
start_containerd() {
  local name=$1 pigz=$2 d="$run/$1" bin
  mkdir -p "$d/root" "$d/state" "$d/opt" "$d/bin"
  write_containerd_config "$d/config.toml" "$d" "$d/containerd.sock"
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
say "data: ${DEPS_MB} MB and ${BIG_MB} MB of mixed files (cached in $data)"
python3 "$lib/gen_data.py" "$data/deps-$DEPS_MB" "$DEPS_MB"
python3 "$lib/gen_data.py" "$data/big-$BIG_MB" "$BIG_MB" --seed 2

# (a) the sample, copied so a concurrent build of samples/ elsewhere cannot interfere
mkdir -p "$run/a"
cp "$root/samples/HelloZstd/"*.csproj "$root/samples/HelloZstd/"*.cs "$run/a/"
write_nuget_config "$run/a" "$root/artifacts/packages"
PROJ_a="$run/a/HelloZstd.csproj"; BASE_a="$BREG/dotnet/aspnet:10.0"

app_project() { # DIR NAME DATA_DIR RID_PROPS [PACKAGES]: the data as files of the app, or as PACKAGES
  mkdir -p "$1"
  local feeds=("$root/artifacts/packages")
  local deps="<None Include=\"$3/**\" Exclude=\"$3/.gen-stamp\" LinkBase=\"deps\" CopyToPublishDirectory=\"PreserveNewest\" />"
  if [[ -n ${5:-} ]]; then
    local v ids id
    { read -r v; read -r ids; } <<<"$5"
    deps=""
    for id in $ids; do deps+="<PackageReference Include=\"$id\" Version=\"$v\" />"; done
    feeds+=("$run/deps-feed")
  fi
  write_nuget_config "$1" "${feeds[@]}"
  cat >"$1/$2.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    $4
    <ZstdContainersVersion Condition="'\$(ZstdContainersVersion)' == ''">0.1.0</ZstdContainersVersion>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="ZstdContainers" Version="\$(ZstdContainersVersion)" />
    $deps
  </ItemGroup>
</Project>
EOF
  echo 'var app = WebApplication.CreateBuilder(args).Build(); app.MapGet("/", () => "hello"); app.Run();' >"$1/Program.cs"
}
# (b) self-contained web app + ~100 MB of dependencies as 23 local NuGet packages (native assets,
# so the deps.json owns them as it owns a real app's packages), on the runtime-deps stand-in
app_project "$run/b" AppB "$data/deps-$DEPS_MB" "<RuntimeIdentifier>linux-x64</RuntimeIdentifier><SelfContained>true</SelfContained>" \
  "$(python3 "$lib/make_packages.py" "$data/deps-$DEPS_MB" "$run/deps-feed" linux-x64)"
PROJ_b="$run/b/AppB.csproj"; BASE_b="$BREG/dotnet/runtime-deps:10.0"
# (c) framework-dependent app + the big folder, for peak memory
app_project "$run/c" AppBig "$data/big-$BIG_MB" ""
PROJ_c="$run/c/AppBig.csproj"; BASE_c="$BREG/dotnet/aspnet:10.0"

say "restore and warm-up builds"
for x in a b c; do
  p="PROJ_$x"; b="BASE_$x"
  dotnet restore "${!p}" -p:ZstdContainersVersion="$version" -nologo -v:q >"$run/logs/restore-$x.log" 2>&1 ||
    { tail -20 "$run/logs/restore-$x.log" >&2; die "restore of ($x) failed"; }
  dotnet publish "${!p}" -c Release --no-restore -nologo -p:ZstdContainersVersion="$version" \
    -p:ContainerBaseImage="${!b}" -p:ContainerRegistry="$BREG" -v:q >"$run/logs/warmup-$x.log" 2>&1 ||
    { tail -20 "$run/logs/warmup-$x.log" >&2; die "warm-up publish of ($x) failed"; }
done
PUB_b="$run/b/bin/Release/net10.0/linux-x64/publish"
rec size.a "$(du -sb "$run/a/bin/Release/net10.0/publish" | cut -f1)"
rec size.b "$(du -sb "$PUB_b" | cut -f1)"
rec size.c "$(du -sb "$run/c/bin/Release/net10.0/publish" | cut -f1)"

# publish APP COMPRESSION REPO CACHE LOGNAME [extra args]: one timed `dotnet publish -t:PublishContainer`.
# Prints "wall_seconds container_target_seconds". CACHE is both ContainerLayerCacheDirectory and,
# via XDG_CACHE_HOME, the default cache location (see the README: the property does not reach the
# image task in this version, so the environment is what keeps a cold run cold).
publish() {
  local x=$1 comp=$2 repo=$3 cache=$4 name=$5; shift 5
  local p="PROJ_$x" b="BASE_$x" log="$run/logs/$name.log" t0 t1 target
  mkdir -p "$cache"
  t0=$(now)
  XDG_CACHE_HOME="$cache" dotnet publish "${!p}" -c Release --no-restore -nologo -nodeReuse:false -t:PublishContainer \
    -p:ZstdContainersVersion="$version" -p:ContainerBaseImage="${!b}" -p:ContainerRegistry="$BREG" \
    -p:ContainerRepository="$repo" -p:ContainerLayerCompression="$comp" \
    -p:ContainerLayerCacheDirectory="$cache/zstdcontainers" -v:n -clp:PerformanceSummary "$@" >"$log" 2>&1 ||
    { tail -30 "$log" >&2; echo "publish $name failed (log: $log)" >&2; return 1; }
  t1=$(now)
  target=$(awk '/Target Performance Summary/ { f = 1 } f && $3 == "_PublishSingleContainer" { printf "%.3f", $1 / 1000; exit }' "$log")
  echo "$(sub "$t1" "$t0") ${target:-null}"
}
image_bytes() { # REPO[:TAG] -> config + layer sizes from the manifest
  skopeo inspect --raw --tls-verify=false "docker://$BREG/$1" | jq '[.config.size] + [.layers[].size] | add'
}
actions() { # LOGNAME -> what happened to the base layers, e.g. "3 transcoded to zstd"
  grep -oE 'base layer sha256:[0-9a-f]+: .*, (transcoded to zstd|zstd from cache|zstd already, reused)' "$run/logs/$1.log" |
    sed -E 's/.*, //' | sort | uniq -c | awk '{ $1 = $1; print }' | paste -sd, -
}

# ------------------------------------------------------------------ 5a. publish-step time
publish_times() {
  local x=$1 i out w t
  local -a zc zcT gc gcT zw zwT gw gwT
  # cold: fresh cache and a new repository every run; ours and the SDK's alternate
  for ((i = 1; i <= N_PUB; i++)); do
    out=$(publish "$x" zstd "bench/$x-zstd-cold-$i" "$run/cache/$x-cold-$i" "$x-zstd-cold-$i"); read -r w t <<<"$out"; zc+=("$w"); zcT+=("$t")
    recs "verify.$x.zstd.cold.$i" "$(actions "$x-zstd-cold-$i")"
    out=$(publish "$x" gzip "bench/$x-gzip-cold-$i" "$run/cache/$x-gzip" "$x-gzip-cold-$i"); read -r w t <<<"$out"; gc+=("$w"); gcT+=("$t")
    echo "  ($x) cold run $i: zstd ${zc[-1]} s, gzip ${gc[-1]} s" >&2
  done
  # warm: the same repository and cache as a first (untimed) publish
  publish "$x" zstd "bench/$x-zstd-warm" "$run/cache/$x-warm" "$x-zstd-warm-prime" >/dev/null
  publish "$x" gzip "bench/$x-gzip-warm" "$run/cache/$x-gzip" "$x-gzip-warm-prime" >/dev/null
  for ((i = 1; i <= N_PUB; i++)); do
    out=$(publish "$x" zstd "bench/$x-zstd-warm" "$run/cache/$x-warm" "$x-zstd-warm-$i"); read -r w t <<<"$out"; zw+=("$w"); zwT+=("$t")
    recs "verify.$x.zstd.warm.$i" "$(actions "$x-zstd-warm-$i")"
    out=$(publish "$x" gzip "bench/$x-gzip-warm" "$run/cache/$x-gzip" "$x-gzip-warm-$i"); read -r w t <<<"$out"; gw+=("$w"); gwT+=("$t")
    echo "  ($x) warm run $i: zstd ${zw[-1]} s, gzip ${gw[-1]} s" >&2
  done
  samples "publish.$x.zstd.cold" "${zc[@]}"; samples "publish.$x.gzip.cold" "${gc[@]}"
  samples "publish.$x.zstd.warm" "${zw[@]}"; samples "publish.$x.gzip.warm" "${gw[@]}"
  samples "target.$x.zstd.cold" "${zcT[@]}"; samples "target.$x.gzip.cold" "${gcT[@]}"
  samples "target.$x.zstd.warm" "${zwT[@]}"; samples "target.$x.gzip.warm" "${gwT[@]}"
  # the per-layer lines of the last warm zstd publish, for the profile
  grep -E '^\s+(base|app) layer|uploaded [0-9]+ of|Pushed ' "$run/logs/$x-zstd-warm-$N_PUB.log" | sed 's/^ *//' >"$run/logs/$x-zstd-warm-layers.txt" || true
}
section "publish (a) HelloZstd" publish-a publish_times a
section "publish (b) self-contained + ${DEPS_MB} MB" publish-b publish_times b

# ------------------------------------------------------------------ 5b. image bytes per level
level_bytes() {
  local x=$1 l cfg applied
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
  local sock=$1 ref=$2 t0 t1 img
  empty "$sock" || return 1
  drop_caches || true
  t0=$(now)
  ctr -a "$sock" images pull --plain-http --snapshotter "$snap" "$ref" >/dev/null 2>>"$run/logs/pulls.log"
  t1=$(now)
  sub "$t1" "$t0"
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
pulls() {
  local x=$1 i
  local -a gi gp zi
  for ((i = 1; i <= N_PULL; i++)); do
    gi+=("$(pull_once "$SOCK_INPROC" "$BREG/bench/$x-gzip-warm:latest")")
    gp+=("$(pull_once "$SOCK_PIGZ" "$BREG/bench/$x-gzip-warm:latest")")
    zi+=("$(pull_once "$SOCK_INPROC" "$BREG/bench/$x-zstd-warm:latest")")
    echo "  ($x) pull $i: gzip in-process ${gi[-1]} / gzip unpigz ${gp[-1]} / zstd ${zi[-1]} s" >&2
  done
  samples "pull.$x.gzip.inproc" "${gi[@]}"; samples "pull.$x.gzip.pigz" "${gp[@]}"
  samples "pull.$x.zstd.inproc" "${zi[@]}"
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
set_code() { # DIR TEXT: the one line that changes between versions
  echo "var app = WebApplication.CreateBuilder(args).Build(); app.MapGet(\"/\", () => \"$2\"); app.Run();" >"$1/Program.cs"
}
blobs_of() { # REF -> "digest size" of config and layers
  skopeo inspect --raw --tls-verify=false "docker://$BREG/$1" | jq -r '(.config, .layers[]) | "\(.digest) \(.size)"' | sort
}
new_bytes() { # OLD_REF NEW_REF -> bytes of NEW's blobs that OLD does not have
  join -v2 <(blobs_of "$1") <(blobs_of "$2") | awk '{ s += $2 } END { print s + 0 }'
}
node_update() { # SOCK V1 V2 -> "seconds fetched_bytes": pull V2 with V1 present, caches dropped
  local sock=$1 v1=$2 v2=$3 before t0 t1
  empty "$sock" || return 1
  ctr -a "$sock" images pull --plain-http --snapshotter "$snap" "$BREG/$v1" >/dev/null 2>>"$run/logs/pulls.log"
  before=$(ctr -a "$sock" content ls -q | sort)
  drop_caches || true
  t0=$(now)
  ctr -a "$sock" images pull --plain-http --snapshotter "$snap" "$BREG/$v2" >/dev/null 2>>"$run/logs/pulls.log"
  t1=$(now)
  # every blob the pull added to the content store, sized by v2's manifest (the manifest itself too)
  local added
  added=$(comm -13 <(echo "$before") <(ctr -a "$sock" content ls -q | sort))
  echo "$(sub "$t1" "$t0") $(join <(echo "$added") <( (blobs_of "$v2"; skopeo inspect --raw --tls-verify=false "docker://$BREG/$v2" |
    python3 -c 'import sys, hashlib; b = sys.stdin.buffer.read(); print("sha256:" + hashlib.sha256(b).hexdigest(), len(b))') | sort) |
    awk '{ s += $2 } END { print s + 0 }')"
}
redeploy() {
  local i comp w t out
  local -a pz pg uz ug
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
      if [[ $comp == zstd ]]; then pz+=("$w"); uz+=("$(new_bytes "bench/b-redeploy-zstd:r$((i - 1))" "bench/b-redeploy-zstd:r$i")")
      else pg+=("$w"); ug+=("$(new_bytes "bench/b-redeploy-gzip:r$((i - 1))" "bench/b-redeploy-gzip:r$i")"); fi
    done
    echo "  (b) redeploy $i: zstd ${pz[-1]} s, ${uz[-1]} B up; gzip ${pg[-1]} s, ${ug[-1]} B up" >&2
  done
  set_code "$run/b" "hello"
  samples redeploy.b.zstd.publish "${pz[@]}"; samples redeploy.b.gzip.publish "${pg[@]}"
  samples redeploy.b.zstd.uploaded "${uz[@]}"; samples redeploy.b.gzip.uploaded "${ug[@]}"
  rec redeploy.b.zstd.layers "$(skopeo inspect --raw --tls-verify=false "docker://$BREG/bench/b-redeploy-zstd:r1" | jq '.layers | length')"
  recs redeploy.b.zstd.summary "$(grep -oE 'app layers [^)]*' "$run/logs/b-redeploy-zstd-r1.log" | head -1)"
  local -a tz tg fz fg
  for ((i = 1; i <= N_REDEPLOY_PULLS; i++)); do
    read -r w t <<<"$(node_update "$SOCK_INPROC" "bench/b-redeploy-zstd:r0" "bench/b-redeploy-zstd:r1")"; tz+=("$w"); fz+=("$t")
    read -r w t <<<"$(node_update "$SOCK_INPROC" "bench/b-redeploy-gzip:r0" "bench/b-redeploy-gzip:r1")"; tg+=("$w"); fg+=("$t")
    echo "  (b) node update $i: zstd ${tz[-1]} s, ${fz[-1]} B fetched; gzip ${tg[-1]} s, ${fg[-1]} B fetched" >&2
  done
  samples redeploy.b.zstd.pull "${tz[@]}"; samples redeploy.b.gzip.pull "${tg[@]}"
  samples redeploy.b.zstd.fetched "${fz[@]}"; samples redeploy.b.gzip.fetched "${fg[@]}"
  rec redeploy.b.zstd.image "$(image_bytes bench/b-redeploy-zstd:r1)"; rec redeploy.b.gzip.image "$(image_bytes bench/b-redeploy-gzip:r1)"
}
section "redeploy (b) after a one-line change" redeploy-b redeploy

# ------------------------------------------------------------------ 5d. layer-build throughput
# native_once NAME CMD: one hyperfine run (no shell: `bash -c` runs the pipe), prints seconds
native_once() {
  hyperfine -N --style none --runs 1 --export-json "$run/logs/$1.json" "$2" >/dev/null 2>&1 &&
    jq '.results[0].median' "$run/logs/$1.json"
}
# ours_once ARGS...: LayerBench with one warm-up and one timed iteration in a fresh process;
# prints the timed iteration's JSON line, and keeps the warm-up's (first run, with JIT) in the log
ours_once() {
  local out
  out=$("$layerbench" layer --warmup 1 --iterations 1 "$@")
  head -1 <<<"$out" >>"$run/logs/tp-first-iterations.jsonl"
  sed -n 2p <<<"$out"
}
med() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
# Ours and native alternate, run after run, so a change in the machine's load hits both alike.
throughput() {
  local l i tarbytes tarsize oursbytes blob m
  local -a os ns ts hs zs nzs
  tarbytes=$(tar -C "$PUB_b" -cf - . | wc -c)
  tar -C "$PUB_b" -cf "$run/b.tar" .
  tarsize=$(stat -c %s "$run/b.tar")
  native_once tp-native-warmup "bash -c 'tar -C $PUB_b -cf - . | zstd -q -T$nproc_ -3 -o $run/native.zst -f'" >/dev/null
  for l in 3 9; do
    os=() ns=()
    for ((i = 1; i <= N_TP; i++)); do
      blob=$(ours_once --dir "$PUB_b" --level "$l")
      os+=("$(jq .seconds <<<"$blob")"); oursbytes=$(jq -c '{tarBytes, blobBytes}' <<<"$blob")
      ns+=("$(native_once "tp-native-L$l-$i" "bash -c 'tar -C $PUB_b -cf - . | zstd -q -T$nproc_ -$l -o $run/native.zst -f'")")
    done
    rec "tp.ours.L$l" "$(jq -c --argjson s "$(med "${os[@]}")" --argjson all "$(printf '%s\n' "${os[@]}" | jq -cs .)" \
      '. + {medianSeconds: $s, seconds: $all, tarMBps: (.tarBytes / 1e6 / $s)}' <<<"$oursbytes")"
    rec "tp.native.L$l" "$(jq -cn --argjson s "$(med "${ns[@]}")" --argjson all "$(printf '%s\n' "${ns[@]}" | jq -cs .)" \
      --argjson t "$tarbytes" --argjson out "$(stat -c %s "$run/native.zst")" \
      '{medianSeconds: $s, seconds: $all, tarBytes: $t, blobBytes: $out, tarMBps: ($t / 1e6 / $s)}')"
  done
  # first iteration in a fresh process (JIT and tiering included), what a publish pays
  rec tp.ours.L3.first "$(jq -cs '[.[] | select(.level == 3 and .mode == "full")] | {seconds: (map(.seconds) | sort | .[length / 2 | floor]), tarBytes: .[0].tarBytes} | . + {medianSeconds: .seconds, tarMBps: (.tarBytes / 1e6 / .seconds)}' "$run/logs/tp-first-iterations.jsonl")"
  # the same work split up, to see where our time goes (level 3), again alternating
  ts=() hs=() zs=() nzs=()
  for ((i = 1; i <= N_TP; i++)); do
    ts+=("$(ours_once --dir "$PUB_b" --mode tar | jq .seconds)")
    hs+=("$(ours_once --dir "$PUB_b" --mode tarhash | jq .seconds)")
    zs+=("$(ours_once --dir "$run/b.tar" --mode zstd --level 3 | jq .seconds)")
    nzs+=("$(native_once "tp-native-zstd-only-$i" "zstd -q -T$nproc_ -3 $run/b.tar -o $run/native.zst -f")")
  done
  for m in tar:ts:"$tarbytes" tarhash:hs:"$tarbytes" zstd-from-tar:zs:"$tarsize"; do
    local key=${m%%:*} rest=${m#*:} arr t
    arr="${rest%%:*}[@]"; t=${rest#*:}
    rec "tp.ours.$key" "$(jq -cn --argjson s "$(med "${!arr}")" --argjson t "$t" '{medianSeconds: $s, tarBytes: $t, tarMBps: ($t / 1e6 / $s)}')"
  done
  rec tp.native.zstd-from-tar "$(jq -cn --argjson s "$(med "${nzs[@]}")" --argjson t "$tarsize" '{medianSeconds: $s, tarBytes: $t, tarMBps: ($t / 1e6 / $s)}')"
  rm -f "$run/b.tar" "$run/native.zst"
}
section "layer-build throughput" throughput throughput

# ------------------------------------------------------------------ 5e. peak memory, big folder
memory() {
  local comp json timef
  # ours runs with the base layers already in the cache ((a)'s warm cache: the same aspnet base)
  # baseline: the same dotnet publish without the container step (MSBuild evaluating and
  # up-to-date-checking the project and its files), to see what the image task adds
  python3 "$lib/rss_sampler.py" --json "$run/logs/rss-baseline.json" -- /usr/bin/time -v -o "$run/logs/rss-baseline.time" \
    dotnet publish "$PROJ_c" -c Release --no-restore -nologo -nodeReuse:false -maxcpucount:1 \
    -p:ZstdContainersVersion="$version" -v:n >"$run/logs/rss-baseline.log" 2>&1
  rec rss.baseline "$(jq -c --argjson t "$(awk -F': ' '/Maximum resident set size/ { print $2 * 1024 }' "$run/logs/rss-baseline.time")" \
    '. + {time_max_rss_bytes: $t}' "$run/logs/rss-baseline.json")"
  for comp in zstd gzip; do
    json="$run/logs/rss-$comp.json"; timef="$run/logs/rss-$comp.time"
    python3 "$lib/rss_sampler.py" --json "$json" -- /usr/bin/time -v -o "$timef" \
      env XDG_CACHE_HOME="$run/cache/a-warm" dotnet publish "$PROJ_c" -c Release --no-restore -nologo -nodeReuse:false -maxcpucount:1 \
      -t:PublishContainer -p:ZstdContainersVersion="$version" -p:ContainerBaseImage="$BASE_c" -p:ContainerRegistry="$BREG" \
      -p:ContainerRepository="bench/c-$comp-rss" -p:ContainerLayerCompression="$comp" \
      -p:ContainerLayerCacheDirectory="$run/cache/a-warm/zstdcontainers" -v:n >"$run/logs/rss-$comp.log" 2>&1 ||
      { tail -20 "$run/logs/rss-$comp.log" >&2; return 1; }
    rec "rss.$comp" "$(jq -c --argjson t "$(awk -F': ' '/Maximum resident set size/ { print $2 * 1024 }' "$timef")" \
      --argjson w "$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + p[i]; print s }' "$timef")" \
      '. + {time_max_rss_bytes: $t, wall_seconds: $w}' "$json")"
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
