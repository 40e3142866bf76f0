#!/usr/bin/env bash
# Installs what the integration-test rig needs (registry, containerd, runc, skopeo, podman,
# debootstrap, compressors, jq, python3, curl) from the distribution's own packages.
# Also the CI-sample schema checkers in eng/ci-samples (npm ci, from its lockfile).
#
# Idempotent and quiet: when every needed command is already on PATH we do not touch apt at all
# (no `apt-get update`, which is the slow part and needs the network). Output of apt goes to
# $ZC_STATE/install-deps.log and is only shown when something fails.
#
# We look for commands, not for package names, on purpose: a CI image may already ship an
# equivalent from another source (e.g. containerd.io from Docker's repository provides containerd,
# ctr and runc), and installing Debian's package next to it would conflict.
set -euo pipefail

state="${ZC_STATE:-/tmp/zstdcontainers-rig}"
log="$state/install-deps.log"

die() { echo "install-deps.sh: $*" >&2; exit 1; }

# command on PATH -> Debian package that provides it
declare -A pkg_of=(
  [docker-registry]=docker-registry
  [containerd]=containerd
  [containerd-shim-runc-v2]=containerd
  [ctr]=containerd
  [runc]=runc
  [skopeo]=skopeo
  [podman]=podman
  [debootstrap]=debootstrap
  [zstd]=zstd
  [pigz]=pigz
  [jq]=jq
  [python3]=python3
  [curl]=curl
  [bc]=bc                       # eng/demo.sh's arithmetic
  [busybox]=busybox-static      # a static binary for the archive tests' tiny images
  [openssl]=openssl             # test certificates for the TLS registry tests
  [htpasswd]=apache2-utils      # bcrypt htpasswd files for the Basic-auth registry tests
  [node]=nodejs                 # the CI-sample schema checks (eng/ci-samples)
  [npm]=npm
  [tc]=iproute2                 # eng/lib/shaping.sh (the demo's and the benchmark's shaped link)
)

# sbin directories are not on a non-login PATH everywhere (runc, debootstrap live there).
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing=()
for cmd in "${!pkg_of[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${pkg_of[$cmd]}")
done
# debootstrap verifies the Release file with the archive keyring; it is a separate package.
[[ -r /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)

# The CI-sample checkers (eng/ci-samples): exactly the versions in its lockfile, from npm.
install_ci_sample_checkers() {
  local dir
  dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)/ci-samples"
  [[ -d $dir/node_modules && $dir/node_modules/.package-lock.json -nt $dir/package-lock.json ]] && return 0
  mkdir -p "$state"
  (cd "$dir" && npm ci --no-audit --no-fund >>"$log" 2>&1) || { tail -n 30 "$log" >&2; die "npm ci in $dir failed (full log: $log)"; }
}

if ((${#missing[@]} == 0)); then install_ci_sample_checkers; exit 0; fi

# de-duplicate (containerd appears for several commands) and sort for a stable command line
mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)

[[ $(id -u) -eq 0 ]] || die "missing packages (${missing[*]}); run this script as root to install them"
command -v apt-get >/dev/null 2>&1 || die "missing packages (${missing[*]}) and no apt-get on this machine"

mkdir -p "$state"
: >"$log"
export DEBIAN_FRONTEND=noninteractive
# Package postinst scripts would try to start system services (containerd, docker-registry on
# :5000). We run our own instances on our own sockets/ports, so keep the system ones from starting
# during installation: policy-rc.d exit code 101 = "action forbidden".
policy=/usr/sbin/policy-rc.d
created_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod 755 "$policy" && created_policy=1
fi
cleanup() { ((created_policy)) && rm -f "$policy"; return 0; }
trap cleanup EXIT

if ! { apt-get update -q >>"$log" 2>&1 &&
       apt-get install -y -q --no-install-recommends "${missing[@]}" >>"$log" 2>&1; }; then
  tail -n 30 "$log" >&2
  die "apt-get failed installing: ${missing[*]} (full log: $log)"
fi

for cmd in "${!pkg_of[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' still not found after installing ${missing[*]}"
done
install_ci_sample_checkers
