#!/usr/bin/env bash
# zstd:chunked figures (issue 15), side by side on the same images:
#   1. image bytes of app (a) (samples/HelloZstd, aspnet base) and app (b) (self-contained + ~100 MB
#      of files, runtime-deps base): the SDK's gzip image; ours in plain zstd and in zstd:chunked at
#      the same level (3, base layers included); and `ctr-remote images convert --zstdchunked --oci`
#      of the SDK's gzip image at that level. Plus the publish time of ours both ways (cold layer cache).
#   2. podman 4.3 with partial pulls on (storage.conf from DESIGN.md section 7) pulls v1 of (b) in
#      zstd:chunked, then v2 (one line of Program.cs changed): bytes it fetched from the registry
#      (the registry's access log: 200 and 206 responses) against the whole image.
#   3. skopeo copies our zstd:chunked image to another repository with its digests and annotations.
# Writes eng/bench/results/chunked.md and .jsonl. About 5-10 minutes on 2 cores once the rig exists.
#
#   eng/bench/chunked.sh [--keep]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/../.." && pwd -P)"
lib="$here/lib"
results="$here/results"
keep=0
[[ ${1:-} == --keep ]] && keep=1
LEVEL=3
data="${ZCB_DATA:-/tmp/zstdcontainers-bench-data}"
source "$lib/common.sh"
[[ $(id -u) -eq 0 ]] || die "run as root (the rig and podman's overlay store need it)"

say "tools and rig"
command -v ctr-remote >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends stargz-snapshotter >/dev/null ||
  die "ctr-remote missing: apt-get install stargz-snapshotter"
# shellcheck source=/dev/null
source "$(timeout 900 "$root/eng/rig.sh")"

run="$(mktemp -d /tmp/zcb-chunked.XXXXXX)"
mkdir -p "$run/logs" "$results"
jsonl="$run/results.jsonl"; : >"$jsonl"
ns="zcb-chunked-$$"
pids=()
cleanup() {
  local img
  for img in $(ctr -a "$ZC_CONTAINERD_ADDRESS" -n "$ns" images ls -q 2>/dev/null); do
    ctr -a "$ZC_CONTAINERD_ADDRESS" -n "$ns" images rm "$img" >/dev/null 2>&1 || true
  done
  ctr -a "$ZC_CONTAINERD_ADDRESS" -n "$ns" content prune references >/dev/null 2>&1 || true
  ctr -a "$ZC_CONTAINERD_ADDRESS" namespaces rm "$ns" >/dev/null 2>&1 || true
  [[ -f $run/podman/storage.conf ]] && CONTAINERS_STORAGE_CONF="$run/podman/storage.conf" podman --events-backend none system reset --force >/dev/null 2>&1 || true
  stop_pids
  if [[ -n ${version:-} ]]; then remove_package "$version"; fi
  if ((keep)); then echo "run folder kept: $run" >&2; else remove_run_folder; fi
}
trap cleanup EXIT

say "pack"
version="0.1.0-bench.$(date +%Y%m%d%H%M%S)"
pack_package "$version" "$run/logs/pack.log"

say "private registry with an access log"
seed_private_registry "$run/logs/registry.log" true
REG=$BREG

say "projects"
python3 "$lib/gen_data.py" "$data/deps-100" 100
copy_sample_a "$run/a"
app_project "$run/b" AppB "$data/deps-100" "<RuntimeIdentifier>linux-x64</RuntimeIdentifier><SelfContained>true</SelfContained>"
set_code "$run/b" "hello v1"
PROJ_a="$run/a/HelloZstd.csproj"; BASE_a="$REG/dotnet/aspnet:10.0"
PROJ_b="$run/b/AppB.csproj"; BASE_b="$REG/dotnet/runtime-deps:10.0"
for x in a b; do p="PROJ_$x"; prepare_project "${!p}" "$version" "$x"; done

# publish APP COMPRESSION REPO [TAG]: a publish with the repository's own layer cache (cold the
# first time); prints its seconds
publish() {
  local x=$1 comp=$2 repo=$3 tag=${4:-v1} p="PROJ_$1" b="BASE_$1" t0 cache="$run/cache/${3//\//-}" log="$run/logs/publish-${3//\//-}-${4:-v1}.log"
  mkdir -p "$cache"
  t0=$(now)
  XDG_CACHE_HOME="$cache" dotnet publish "${!p}" -c Release --no-restore -nologo -t:PublishContainer \
    -p:ZstdContainersVersion="$version" -p:ContainerBaseImage="${!b}" -p:ContainerRegistry="$REG" \
    -p:ContainerRepository="$repo" -p:ContainerImageTag="$tag" -p:ContainerLayerCompression="$comp" \
    -p:ContainerLayerCompressionLevel=$LEVEL -p:ContainerBaseLayerCompressionLevel=$LEVEL \
    -p:ContainerLayerCacheDirectory="$cache/zstdcontainers" -v:n >"$log" 2>&1 ||
    { tail -30 "$log" >&2; return 1; }
  elapsed "$t0"
}

say "image bytes: SDK gzip, ours zstd and zstd:chunked (level $LEVEL), ctr-remote --zstdchunked"
ctr_=(ctr-remote -a "$ZC_CONTAINERD_ADDRESS" -n "$ns")
for x in a b; do
  rec "publish.$x.gzip" "$(publish "$x" gzip "$x/gzip")"
  rec "publish.$x.zstd" "$(publish "$x" zstd "$x/zstd")"
  rec "publish.$x.chunked" "$(publish "$x" zstd:chunked "$x/chunked")"
  for k in gzip zstd chunked; do rec "bytes.$x.$k" "$(image_bytes "$x/$k:v1")"; done
  "${ctr_[@]}" images pull --plain-http --platform linux/amd64 "$REG/$x/gzip:v1" >"$run/logs/ctr-remote-$x.log" 2>&1
  t0=$(now)
  "${ctr_[@]}" images convert --zstdchunked --oci --estargz-compression-level $LEVEL --platform linux/amd64 \
    "$REG/$x/gzip:v1" "$REG/$x/ctr-remote:v1" >>"$run/logs/ctr-remote-$x.log" 2>&1
  rec "convert.$x.ctr-remote" "$(elapsed "$t0")"
  "${ctr_[@]}" images push --plain-http "$REG/$x/ctr-remote:v1" >>"$run/logs/ctr-remote-$x.log" 2>&1
  rec "bytes.$x.ctr-remote" "$(image_bytes "$x/ctr-remote:v1")"
  echo "  ($x) gzip $(recorded "bytes.$x.gzip"), zstd $(recorded "bytes.$x.zstd"), chunked $(recorded "bytes.$x.chunked"), ctr-remote $(recorded "bytes.$x.ctr-remote")" >&2
done

say "podman partial pulls: (b) v1, then v2 with one line changed"
mkdir -p "$run/podman"
cat >"$run/podman/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$run/podman/run"
graphroot = "$run/podman/graph"

[storage.options]
pull_options = {enable_partial_images = "true", use_hard_links = "false", ostree_repos = ""}
EOF
pm() { CONTAINERS_STORAGE_CONF="$run/podman/storage.conf" TMPDIR=/var/tmp podman --events-backend none "$@"; }
# fetched FROM_LINE: bytes of blob GETs (200 and 206) in the access log after line FROM_LINE
fetched() {
  tail -n +"$1" "$run/logs/registry.log" | grep -oE '"GET /v2/[^ ]+/blobs/sha256:[0-9a-f]+ HTTP/[0-9.]+" (200|206) [0-9]+' |
    awk '{ s += $NF } END { print s + 0 }'
}
ranges() { tail -n +"$1" "$run/logs/registry.log" | grep -cE '"GET /v2/[^ ]+/blobs/sha256:[0-9a-f]+ HTTP/[0-9.]+" 206 ' || true; }
line0=$(($(wc -l <"$run/logs/registry.log") + 1))
pm pull -q --tls-verify=false "$REG/b/chunked:v1" >"$run/logs/podman-v1.log" 2>&1 || { cat "$run/logs/podman-v1.log" >&2; die "podman pull v1"; }
sleep 1
rec partial.v1.fetched "$(fetched "$line0")"
rec partial.v1.ranges "$(ranges "$line0")"
set_code "$run/b" "hello v2"
rec publish.b.chunked.v2 "$(publish b zstd:chunked b/chunked v2)"
rec bytes.b.chunked.v2 "$(image_bytes b/chunked:v2)"
line1=$(($(wc -l <"$run/logs/registry.log") + 1))
pm pull -q --tls-verify=false "$REG/b/chunked:v2" >"$run/logs/podman-v2.log" 2>&1 || { cat "$run/logs/podman-v2.log" >&2; die "podman pull v2"; }
sleep 1
rec partial.v2.fetched "$(fetched "$line1")"
rec partial.v2.ranges "$(ranges "$line1")"
echo "  v1 fetched $(recorded partial.v1.fetched) bytes; v2 fetched $(recorded partial.v2.fetched) of $(recorded bytes.b.chunked.v2)" >&2

say "skopeo copies the zstd:chunked image"
if skopeo --policy "$run/policy.json" copy -q --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
     "docker://$REG/b/chunked:v2" "docker://$REG/b/chunked-copy:v2" >"$run/logs/skopeo.log" 2>&1 &&
   [[ "$(skopeo inspect --raw --tls-verify=false "docker://$REG/b/chunked-copy:v2" | jq -c .layers)" == "$(skopeo inspect --raw --tls-verify=false "docker://$REG/b/chunked:v2" | jq -c .layers)" ]]; then
  rec skopeo.copy true
else
  rec skopeo.copy false
fi

say "report"
cp "$jsonl" "$results/chunked.jsonl"
python3 - "$results/chunked.jsonl" "$results/chunked.md" "$(date -u +%F)" "$(git -C "$root" rev-parse --short HEAD)" "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'EOF'
import json, sys
src, out, date, commit, nproc, load = sys.argv[1:]
v = {}
for line in open(src):
    r = json.loads(line); v[r["k"]] = r["v"]
mb = lambda b: f"{b / 1e6:.1f} MB"
rows = []
for x, name in (("a", "(a) HelloZstd, aspnet base"), ("b", "(b) self-contained + 100 MB, runtime-deps base")):
    g, z, c, r = (v[f"bytes.{x}.{k}"] for k in ("gzip", "zstd", "chunked", "ctr-remote"))
    rows.append(f"| {name} | {mb(g)} | {mb(z)} | {mb(c)} ({c / z:.3f}× zstd) | {mb(r)} ({c / r:.2f}× ours/theirs) | "
                f"{v[f'publish.{x}.zstd']} s / {v[f'publish.{x}.chunked']} s | {v[f'convert.{x}.ctr-remote']} s |")
f2, full = v["partial.v2.fetched"], v["bytes.b.chunked.v2"]
text = f"""# zstd:chunked figures ({date}, commit {commit}, {nproc} cores, load {load})

`eng/bench/chunked.sh`; level 3 everywhere (ours: ContainerLayerCompressionLevel and
ContainerBaseLayerCompressionLevel; ctr-remote: --estargz-compression-level 3), publish times with a cold layer cache.

| image | SDK gzip | ours zstd | ours zstd:chunked | ctr-remote --zstdchunked | our publish, zstd / chunked | ctr-remote convert |
|---|---:|---:|---:|---:|---:|---:|
{chr(10).join(rows)}

podman 4.3, partial pulls on (overlay, `enable_partial_images`), image (b) in zstd:chunked:

| pull | fetched from the registry | range requests (206) | share of the image |
|---|---:|---:|---:|
| v1 into an empty store | {mb(v['partial.v1.fetched'])} | {v['partial.v1.ranges']} | {100 * v['partial.v1.fetched'] / v['bytes.b.chunked']:.1f}% of {mb(v['bytes.b.chunked'])} |
| v2 after v1 (one line of Program.cs changed) | {f2 / 1e3:.1f} kB | {v['partial.v2.ranges']} | **{100 * f2 / full:.2f}%** of {mb(full)} |

skopeo 1.9 copies our zstd:chunked image with its digests and annotations: {"yes" if v["skopeo.copy"] else "NO"}.
"""
open(out, "w").write(text)
print(text)
EOF
