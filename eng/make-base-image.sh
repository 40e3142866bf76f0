#!/usr/bin/env bash
# Builds a stand-in for Microsoft's dotnet/aspnet image (there is no internet to pull the real one)
# and pushes it, in several flavours, to the rig's local registry:
#
#   dotnet/aspnet:10.0              OCI index: linux/amd64 (runnable) + linux/arm64/v8 (same layers,
#                                   arm64 config; only for platform-selection tests, never run); gzip
#   dotnet/runtime:10.0             Docker v2 schema 2 manifest, no index; rootfs + runtime; gzip
#   dotnet/aspnet-zstd:10.0         OCI manifest, amd64, tar+zstd layers (zstd -3)
#   dotnet/aspnet-uncompressed:10.0 OCI manifest, amd64, uncompressed tar layers
#
# Layers: 1 = Debian bookworm minbase (debootstrap) + user app (1654) + /usr/bin/dotnet symlink,
#         2 = this machine's .NET runtime (dotnet host, hostfxr, Microsoft.NETCore.App),
#         3 = this machine's ASP.NET Core shared framework.
# Needs eng/start-services.sh to have run (sources $ZC_STATE/env.sh). Deterministic: same rootfs
# and runtime in, same digests out. Second run: a stamp file plus a HEAD per tag, well under 1 s.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
state="${ZC_STATE:-/tmp/zstdcontainers-rig}"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() { echo "make-base-image.sh: $*" >&2; exit 1; }
log="$state/make-base-image.log"
# Anything failing under `set -e` says where; the details are in the log.
trap 'rc=$?; echo "make-base-image.sh: failed (exit $rc) at line $LINENO: $BASH_COMMAND; details in $log" >&2' ERR

# step WHAT: a timestamped marker in the log, to see where the time goes.
step() { echo "=== $(date -u +%T) $*" >>"$log"; }

# run_logged WHAT CMD...: run quietly, append output to the log, show its tail if it fails.
run_logged() {
  local what=$1; shift
  echo "+ $*" >>"$log"
  if ! "$@" >>"$log" 2>&1; then
    trap - ERR
    tail -n 25 "$log" >&2
    die "$what failed (full log: $log)"
  fi
}

[[ -r $state/env.sh ]] || die "$state/env.sh not found; run eng/start-services.sh first"
# shellcheck source=/dev/null
. "$state/env.sh"
state="$ZC_STATE"
log="$state/make-base-image.log"
[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap and containerd need it)"
curl -fsS -o /dev/null "http://$ZC_REGISTRY/v2/" 2>/dev/null || die "registry $ZC_REGISTRY is not answering; run eng/start-services.sh"

# One build at a time: tests may call eng/rig.sh concurrently.
exec 9>"$state/make-base-image.lock"
flock 9

sock="$ZC_CONTAINERD_ADDRESS"
snap="${ZC_CONTAINERD_SNAPSHOTTER:-overlayfs}"
dotnet_root="${ZC_DOTNET_ROOT:-/usr/share/dotnet}"
created="2025-11-11T00:00:00Z" # fixed, for reproducible configs and layer mtimes
suite=bookworm
packages=libicu72,libssl3,ca-certificates,tzdata
app_uid=1654
rootfs="$state/rootfs"
layout="$state/oci" # the OCI layout stays around: tests may use it as an oci: source
work="$state/work"
stamp="$state/base-image.stamp"
policy="$state/skopeo-policy.json"

# ------------------------------------------------------------------ inputs
# Newest version directory of a shared framework, e.g. 10.0.12.
framework_version() {
  local dir="$dotnet_root/shared/$1"
  [[ -d $dir ]] || die "$dir not found: this machine's .NET runtime is needed for the image (set ZC_DOTNET_ROOT)"
  find "$dir" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | sort -V | tail -n 1
}
dotnet_version="$(framework_version Microsoft.NETCore.App)"
aspnet_version="$(framework_version Microsoft.AspNetCore.App)"
[[ -n $dotnet_version && -n $aspnet_version ]] || die "no runtime version found under $dotnet_root/shared"

# The Debian mirror this machine already uses (no host names baked into the repo): the first
# URIs: value of the deb822 entry whose Suites include bookworm.
sources=/etc/apt/sources.list.d/debian.sources
mirror="$(awk -v suite="$suite" '
  function flush() { if (!done && ok && uri != "") { print uri; done = 1 } ok = 0; uri = "" }
  /^[[:space:]]*#/ { next }
  /^[[:space:]]*$/ { flush(); next }
  tolower($1) == "uris:" && uri == "" { uri = $2 }
  tolower($1) == "suites:" { for (i = 2; i <= NF; i++) if ($i == suite) ok = 1 }
  END { flush() }' "$sources" 2>/dev/null || true)"
[[ -n $mirror ]] || die "no URIs: line for suite $suite in $sources"

# Everything that shapes the images (these scripts, the runtime, the rootfs build record); a change
# in any of it rebuilds them.
compute_inputs() {
  { cat "$here/make-base-image.sh" "$here/oci_image.py"
    echo "$dotnet_root $dotnet_version $aspnet_version $suite $packages $mirror $ZC_REGISTRY"
    cat "$rootfs.done" 2>/dev/null || true; } | sha256sum | cut -c1-64
}
inputs="$(compute_inputs)"

accept="application/vnd.oci.image.index.v1+json,application/vnd.oci.image.manifest.v1+json"
accept+=",application/vnd.docker.distribution.manifest.v2+json,application/vnd.docker.distribution.manifest.list.v2+json"
# registry_digest REPO:TAG -> the digest the registry serves for it (empty if none)
registry_digest() {
  curl -fsSI -H "Accept: $accept" "http://$ZC_REGISTRY/v2/${1%%:*}/manifests/${1##*:}" 2>/dev/null |
    tr -d '\r' | awk -F': ' 'tolower($1) == "docker-content-digest" { print $2 }'
}

# ------------------------------------------------------------------ fast path
# The stamp lists the inputs hash and each pushed ref with its digest; if the registry still
# serves exactly those digests there is nothing to do.
if [[ -r $stamp ]] && [[ "$(head -n 1 "$stamp")" == "inputs $inputs" ]]; then
  uptodate=1
  while read -r ref digest; do
    [[ "$(registry_digest "$ref")" == "$digest" ]] || { uptodate=0; break; }
  done < <(tail -n +2 "$stamp")
  ((uptodate)) && [[ $(wc -l <"$stamp") -eq 5 ]] && exit 0
fi
rm -f "$stamp"
: >"$log"

for cmd in debootstrap skopeo ctr podman zstd python3 flock; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found; run eng/install-deps.sh first"
done

# ------------------------------------------------------------------ rootfs (cached)
step "rootfs"
# $rootfs.done is written only after debootstrap succeeded, so a half-built tree from an
# interrupted run is thrown away instead of reused.
# debootstrap mounts proc and sys in the target and, inside a Docker container, bind-mounts the
# host's /dev/pts, /dev/shm, /dev/null... there. A killed run can leave those behind, and rm -rf
# through a bind mount would delete the host's files; so unmount everything below a tree (deepest
# first) before deleting it, and refuse if something stays mounted.
mounts_under() { awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r; }
safe_rm_tree() {
  local m
  for m in $(mounts_under "$1"); do umount -l "$m" 2>/dev/null || true; done
  [[ -z "$(mounts_under "$1")" ]] || die "cannot unmount everything under $1; unmount it by hand"
  rm -rf "$1"
}
if [[ ! -f $rootfs.done || ! -x $rootfs/bin/sh ]]; then
  rm -f "$rootfs.done"
  safe_rm_tree "$rootfs"
  safe_rm_tree "$rootfs.tmp"
  trap 'for m in $(mounts_under "$rootfs.tmp"); do umount -l "$m" 2>/dev/null || true; done' EXIT
  run_logged "debootstrap $suite from $mirror" \
    debootstrap --variant=minbase --include="$packages" "$suite" "$rootfs.tmp" "$mirror"
  trap - EXIT
  [[ -z "$(mounts_under "$rootfs.tmp")" ]] || die "debootstrap left mounts under $rootfs.tmp"

  mv "$rootfs.tmp" "$rootfs"
  # Records what the rootfs was built from; part of the inputs hash above.
  echo "$suite $packages $mirror $(date -u +%FT%TZ)" >"$rootfs.done"
  inputs="$(compute_inputs)"
fi

# Our changes to the rootfs. Idempotent and applied on every build (not only after debootstrap),
# so editing them here takes effect without a new debootstrap.
r="$rootfs"
# The real image creates the non-root user with groupadd/useradd --system --uid 1654; writing
# the lines directly gives the same result without running tools inside the chroot.
grep -q '^app:' "$r/etc/group" || echo "app:x:$app_uid:" >>"$r/etc/group"
grep -q '^app:' "$r/etc/passwd" || echo "app:x:$app_uid:$app_uid::/home/app:/bin/false" >>"$r/etc/passwd"
# The runtime layers put dotnet in /usr/share/dotnet; the real image links it onto PATH.
mkdir -p "$r/usr/share/dotnet"
ln -sfn /usr/share/dotnet/dotnet "$r/usr/bin/dotnet"
# Smaller and free of build-host traces: package caches, indexes and logs, and the host's
# resolv.conf/hostname that debootstrap copies in (runtimes bind-mount their own).
rm -rf "$r"/var/cache/apt/* "$r"/var/lib/apt/lists/* "$r"/var/cache/debconf/*-old \
       "$r"/var/lib/dpkg/*-old "$r"/var/cache/ldconfig/aux-cache "$r/debootstrap"
find "$r/var/log" -type f -delete
: >"$r/etc/resolv.conf"
echo localhost >"$r/etc/hostname"
chmod 644 "$r/etc/resolv.conf" "$r/etc/hostname" # copied with the build host's modes
# /etc/shadow stores "last password change" as days since 1970, i.e. the day debootstrap ran; pin
# it to $created's day so a rootfs built on another day gives the same layer digest.
days=$(($(date -ud "$created" +%s) / 86400))
awk -F: -v OFS=: -v d="$days" '$3 != "" { $3 = d } { print }' "$r/etc/shadow" >"$r/etc/shadow.zc"
chmod --reference="$r/etc/shadow" "$r/etc/shadow.zc"
chown --reference="$r/etc/shadow" "$r/etc/shadow.zc"
mv -f "$r/etc/shadow.zc" "$r/etc/shadow"

# ------------------------------------------------------------------ layer tars
step "layer tars"
rm -rf "$work"
mkdir -p "$work"
oci() { python3 "$here/oci_image.py" "$@"; }

# dev, proc, sys, run and tmp are filled in by the runtime; ship them empty.
oci tar --out "$work/rootfs.tar" --created "$created" \
  --exclude-contents dev --exclude-contents proc --exclude-contents sys \
  --exclude-contents run --exclude-contents tmp \
  "$rootfs:" >>"$log"

runtime_entries=(
  "$dotnet_root/dotnet:usr/share/dotnet/dotnet"
  "$dotnet_root/host:usr/share/dotnet/host"
  "$dotnet_root/shared/Microsoft.NETCore.App/$dotnet_version:usr/share/dotnet/shared/Microsoft.NETCore.App/$dotnet_version"
)
for f in LICENSE.txt ThirdPartyNotices.txt; do
  if [[ -f $dotnet_root/$f ]]; then runtime_entries+=("$dotnet_root/$f:usr/share/dotnet/$f"); fi
done
# The host's files may belong to whoever installed .NET; in the image they are root's.
oci tar --out "$work/runtime.tar" --created "$created" --owner 0:0 "${runtime_entries[@]}" >>"$log"
oci tar --out "$work/aspnet.tar" --created "$created" --owner 0:0 \
  "$dotnet_root/shared/Microsoft.AspNetCore.App/$aspnet_version:usr/share/dotnet/shared/Microsoft.AspNetCore.App/$aspnet_version" >>"$log"

# ------------------------------------------------------------------ images
step "images (compression)"
env_common=(
  --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
  --env APP_UID=$app_uid
  --env ASPNETCORE_HTTP_PORTS=8080
  --env DOTNET_RUNNING_IN_CONTAINER=true
  --env DOTNET_VERSION="$dotnet_version"
)
layer_rootfs=(--layer "$work/rootfs.tar" --history "debootstrap --variant=minbase --include=$packages $suite; useradd app ($app_uid)")
layer_runtime=(--layer "$work/runtime.tar" --history "COPY .NET Runtime $dotnet_version /usr/share/dotnet/")
layer_aspnet=(--layer "$work/aspnet.tar" --history "COPY ASP.NET Core Runtime $aspnet_version /usr/share/dotnet/shared/")
aspnet_env=("${env_common[@]}" --env ASPNET_VERSION="$aspnet_version" --env DOTNET_ROOT=/usr/share/dotnet)
aspnet_layers=("${layer_rootfs[@]}" "${layer_runtime[@]}" "${layer_aspnet[@]}")

rm -rf "$layout" # rebuilt from scratch so it holds exactly these four refs
d_aspnet="$(oci image --layout "$layout" --ref aspnet --format oci --compression gzip \
  --platform linux/amd64 --platform linux/arm64/v8 --created "$created" "${aspnet_env[@]}" "${aspnet_layers[@]}")"
d_runtime="$(oci image --layout "$layout" --ref runtime --format docker --compression gzip \
  --platform linux/amd64 --created "$created" "${env_common[@]}" --env DOTNET_ROOT=/usr/share/dotnet \
  "${layer_rootfs[@]}" "${layer_runtime[@]}")"
d_zstd="$(oci image --layout "$layout" --ref aspnet-zstd --format oci --compression zstd --level 3 \
  --platform linux/amd64 --created "$created" "${aspnet_env[@]}" "${aspnet_layers[@]}")"
d_none="$(oci image --layout "$layout" --ref aspnet-uncompressed --format oci --compression none \
  --platform linux/amd64 --created "$created" "${aspnet_env[@]}" "${aspnet_layers[@]}")"
rm -rf "$work"

# ------------------------------------------------------------------ push
# A private policy: the machine's /etc/containers/policy.json may be stricter or missing.
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$policy"
# push SRC DEST_REPO:TAG EXPECTED_DIGEST [--all]    (SRC: a skopeo source, oci:... or dir:...)
push() {
  local src=$1 dest=$2 want=$3; shift 3
  # --preserve-digests: fail rather than let skopeo rewrite a manifest (we test exact media types).
  run_logged "push of $dest" skopeo --policy "$policy" copy -q --preserve-digests --dest-tls-verify=false \
    "$@" "$src" "docker://$ZC_REGISTRY/$dest"
  local got
  got="$(registry_digest "$dest")"
  [[ $got == "$want" ]] || die "registry serves $dest as '$got', expected $want"
}
step "push"
push "oci:$layout:aspnet" dotnet/aspnet:10.0 "$d_aspnet" --all
push "dir:$layout/dir/runtime" dotnet/runtime:10.0 "$d_runtime" # Docker v2: see oci_image.py
push "oci:$layout:aspnet-zstd" dotnet/aspnet-zstd:10.0 "$d_zstd"
push "oci:$layout:aspnet-uncompressed" dotnet/aspnet-uncompressed:10.0 "$d_none"

# ------------------------------------------------------------------ verify
step "verify with containerd and podman"
# podman (through containers/image) must accept the zstd image. ZC_PODMAN_ARGS (env.sh) gives it a
# private vfs store under the state dir: no clash with the machine's podman store. It runs in the
# background, next to the containerd check, to save a few seconds; its output has its own log.
# shellcheck disable=SC2206 # ZC_PODMAN_ARGS is a flag list without spaces inside values
podman_=(podman ${ZC_PODMAN_ARGS:?not set by $state/env.sh; rerun eng/start-services.sh})
zref="$ZC_REGISTRY/dotnet/aspnet-zstd:10.0"
podman_log="$state/make-base-image.podman.log"
( "${podman_[@]}" pull -q --tls-verify=false "$zref" && "${podman_[@]}" rmi "$zref" ) >"$podman_log" 2>&1 &
podman_pid=$!

# containerd checks every digest and diff_id while unpacking, then really runs dotnet in the image.
ref="$ZC_REGISTRY/dotnet/aspnet:10.0"
ctr_() { ctr -a "$sock" "$@"; }
run_logged "ctr pull of $ref" ctr_ images pull --plain-http --snapshotter "$snap" "$ref"
probe="probe$$"
if ! out="$(ctr_ run --rm --snapshotter "$snap" "$ref" "$probe" dotnet --list-runtimes 2>&1)"; then
  echo "$out" >&2
  ctr_ tasks delete -f "$probe" >/dev/null 2>&1 || true
  ctr_ containers delete "$probe" >/dev/null 2>&1 || true
  die "running dotnet in $ref with containerd failed"
fi
echo "$out" >>"$log"
grep -q "Microsoft.AspNetCore.App $aspnet_version" <<<"$out" || { echo "$out" >&2; die "dotnet --list-runtimes in $ref did not list Microsoft.AspNetCore.App"; }
# The tests start from a cold cache: remove the image, and --sync waits for its content and
# snapshots to be garbage-collected.
run_logged "ctr images rm" ctr_ images rm --sync "$ref"

if ! wait "$podman_pid"; then
  trap - ERR
  cat "$podman_log" >&2
  die "podman could not pull (or remove) $zref (log: $podman_log)"
fi

# ------------------------------------------------------------------ stamp
step "done"
{
  echo "inputs $inputs"
  echo "dotnet/aspnet:10.0 $d_aspnet"
  echo "dotnet/runtime:10.0 $d_runtime"
  echo "dotnet/aspnet-zstd:10.0 $d_zstd"
  echo "dotnet/aspnet-uncompressed:10.0 $d_none"
} >"$stamp.tmp"
mv -f "$stamp.tmp" "$stamp"
