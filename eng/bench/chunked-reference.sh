#!/usr/bin/env bash
# What zstd:chunked costs in bytes when containers/storage itself writes it (issue 15's bytes target).
#
# The stand-in aspnet base (3 layers) is pulled into a scratch podman store and pushed twice to OCI
# layouts with podman's own writers: `--compression-format zstd` and `--compression-format
# zstd:chunked` (podman 4.3's default level, 3). Each of its plain zstd layers is then unpacked to
# a tar, and `LayerBench chunked --tar` writes that tar with our writers at the same level, plain and
# chunked. The table puts both writers' chunked/plain ratios side by side, per layer.
# A layer podman's chunked writer fails on is reported as such (podman 4.3 fails with "short write"
# on the runtime layer here).
#
#   eng/bench/chunked-reference.sh          writes eng/bench/results/chunked-reference.md
#
# Needs root (podman's overlay store) and the rig; about 3-4 minutes on 2 quiet cores.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
root="$(cd "$here/../.." && pwd -P)"
source "$here/lib/common.sh"
[[ $(id -u) -eq 0 ]] || die "run as root (podman's overlay store needs it)"
# shellcheck source=/dev/null
source "$(timeout 900 "$root/eng/rig.sh")"

run="$(mktemp -d /tmp/zcb-chunkref.XXXXXX)"
pm() { CONTAINERS_STORAGE_CONF="$run/storage.conf" TMPDIR=/var/tmp podman --events-backend none "$@"; }
cleanup() {
  pm system reset --force >/dev/null 2>&1 || true
  rm -rf "$run"
}
trap cleanup EXIT
cat >"$run/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$run/podman/run"
graphroot = "$run/podman/graph"
EOF

image="$ZC_REGISTRY/dotnet/aspnet:10.0"
say "podman pull $image"
pm pull -q --tls-verify=false "$image" >/dev/null

for format in zstd zstd:chunked; do
  say "podman push --compression-format $format"
  dir="$run/oci-${format/:/-}"
  if ! pm push -q --compression-format "$format" "$image" "oci:$dir:ref" >"$run/push-${format/:/-}.log" 2>&1; then
    echo "  podman failed: $(tail -1 "$run/push-${format/:/-}.log")" >&2
  fi
done

say "our writers on the same tars (LayerBench chunked, level 3)"
dotnet build -c Release "$here/LayerBench" -v:q -nologo >"$run/build.log" 2>&1 || { tail -20 "$run/build.log" >&2; die "LayerBench build failed"; }
for blob in "$run"/oci-zstd/blobs/sha256/*; do
  # layers only: a zstd frame starts with 28 b5 2f fd
  [[ $(head -c4 "$blob" | od -An -tx1 | tr -d ' \n') == 28b52ffd ]] || continue
  zstd -dcq "$blob" >"$run/layer.tar"
  dotnet run -c Release --no-build --project "$here/LayerBench" -- chunked --tar "$run/layer.tar" --level 3 |
    tail -1 >>"$run/ours.jsonl"
  echo "$(stat -c %s "$blob") $(stat -c %s "$run/layer.tar") $(tar -tf "$run/layer.tar" | wc -l)" >>"$run/podman-plain.txt"
done
for blob in "$run"/oci-zstd-chunked/blobs/sha256/*; do
  [[ $(head -c4 "$blob" | od -An -tx1 | tr -d ' \n') == 28b52ffd ]] || continue
  # only whole blobs: a finished zstd:chunked blob ends with its footer's magic
  [[ $(tail -c8 "$blob") == GnUlInUx ]] || continue
  echo "$(stat -c %s "$blob") $(zstd -dcq "$blob" | wc -c) $(zstd -dcq "$blob" | tar -tf - | wc -l)" >>"$run/podman-chunked.txt"
done
touch "$run/podman-chunked.txt"

python3 - "$run" "$here/results/chunked-reference.md" "$(load)" "$(podman --version)" <<'EOF'
import json, sys
run, out, load, podman = sys.argv[1:]
ours = [json.loads(l) for l in open(f"{run}/ours.jsonl")]
plain = [list(map(int, l.split())) for l in open(f"{run}/podman-plain.txt")]
chunked = [list(map(int, l.split())) for l in open(f"{run}/podman-chunked.txt")]
mb = lambda n: f"{n / 1e6:.2f} MB"
rows = []
for (p_size, tar_size, entries), o in zip(plain, ours):
    # podman's chunked writer re-frames the tar (its size differs by padding only): match by entry count
    match = [c for c in chunked if c[2] == entries]
    theirs = f"{mb(match[0][0])} ({match[0][0] / p_size:.3f}×)" if match else "podman failed"
    rows.append(f"| {mb(tar_size)}, {entries} entries | {mb(p_size)} | {theirs} | {mb(o['plain'])} | "
                f"{mb(o['chunked'])} ({o['chunked'] / o['plain']:.3f}×) | {o['frames']} |")
with open(out, "w") as f:
    f.write(f"""# zstd:chunked: containers/storage's own writer against ours (level 3)

`eng/bench/chunked-reference.sh`; the stand-in aspnet base; {podman}; load average at the end {load}.
podman: `podman push --compression-format zstd` and `... zstd:chunked` of the same image to OCI
layouts. Ours: `LayerBench chunked --tar` on each layer's tar. Ratios are chunked / plain of the
same writer.

| layer (tar) | podman zstd | podman zstd:chunked | ours zstd | ours zstd:chunked | our frames |
|---|---:|---:|---:|---:|---:|
""" + "\n".join(rows) + "\n")
print(open(out).read())
EOF
