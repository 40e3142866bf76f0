#!/usr/bin/env bash
# Starts (or reuses) the two services the integration tests talk to, both private to this rig:
#   - a Distribution registry on http://127.0.0.1:${ZC_REGISTRY_PORT:-5077}, storage in $ZC_STATE/registry
#   - containerd with its own root, state and socket under $ZC_STATE/containerd
# and writes $ZC_STATE/env.sh for the tests to source.
#
# Nothing here touches a system registry or a system containerd (/run/containerd/containerd.sock):
# ours have their own port, socket, root and state, so both can run side by side.
# Quiet on success; on failure prints what went wrong and the tail of the service's log.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/containerd-config.sh"

state="${ZC_STATE:-/tmp/zstdcontainers-rig}"
port="${ZC_REGISTRY_PORT:-5077}"
export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

die() { echo "start-services.sh: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (containerd needs it to mount snapshots and run containers)"
for cmd in docker-registry containerd ctr runc curl; do
  command -v "$cmd" >/dev/null 2>&1 || die "'$cmd' not found; run eng/install-deps.sh first"
done

mkdir -p "$state"
state="$(cd "$state" && pwd -P)" # absolute: it goes into config files and env.sh
# A unix socket path must fit in 108 bytes (sun_path); containerd's would be cut otherwise.
((${#state} <= 70)) || die "ZC_STATE path '$state' is too long for containerd's socket path; use a shorter one"
# Two callers at once (parallel test runs) must not both start daemons. The daemons below are
# started with fd 9 closed: an inherited copy would hold this lock for their whole life.
exec 9>"$state/start-services.flock"
flock 9

# is_ours PIDFILE NEEDLE: the pid in PIDFILE is alive and its command line mentions NEEDLE (our
# config path). Guards against a stale pid file whose pid was reused by an unrelated process.
is_ours() {
  local pid
  [[ -s $1 ]] || return 1
  pid="$(<"$1")"
  [[ -r /proc/$pid/cmdline ]] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$2"
}

# wait_for SECONDS CMD...: poll CMD every 0.2 s until it succeeds.
wait_for() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

# ---------------------------------------------------------------- registry
reg_cfg="$state/registry.yml"
reg_pid="$state/registry.pid"
reg_log="$state/registry.log"
reg_url="http://127.0.0.1:$port/v2/"
mkdir -p "$state/registry"

# http.secret signs upload state; without one the registry picks a random one per start and logs a
# warning. Kept in the state dir so restarts keep it.
[[ -s $state/registry.secret ]] || (umask 077 && od -An -tx1 -N24 /dev/urandom | tr -d ' \n' >"$state/registry.secret")

# Regenerated every time (cheap), so a changed port takes effect after stop/start.
cat >"$reg_cfg.tmp" <<EOF
# written by eng/start-services.sh
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $state/registry
  # tests delete manifests/tags to start from a known state
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
http:
  addr: 127.0.0.1:$port
  secret: $(<"$state/registry.secret")
  headers:
    X-Content-Type-Options: [nosniff]
EOF
mv -f "$reg_cfg.tmp" "$reg_cfg"

if is_ours "$reg_pid" "$reg_cfg" && curl -fsS -o /dev/null "$reg_url" 2>/dev/null; then
  : # already running and healthy: reuse
else
  if is_ours "$reg_pid" "$reg_cfg"; then # alive but not answering: restart it
    kill "$(<"$reg_pid")" 2>/dev/null || true
    wait_for 10 bash -c "! kill -0 $(<"$reg_pid") 2>/dev/null" || kill -9 "$(<"$reg_pid")" 2>/dev/null || true
  fi
  rm -f "$reg_pid"
  # Someone else on our port would make the tests talk to the wrong registry.
  if curl -sS -o /dev/null --max-time 2 "http://127.0.0.1:$port/" 2>/dev/null; then
    die "port 127.0.0.1:$port is already in use by another process; set ZC_REGISTRY_PORT to a free port"
  fi
  # setsid: own session, so the daemon outlives the shell/job that started it and is not hit by
  # signals sent to our process group.
  setsid docker-registry serve "$reg_cfg" >>"$reg_log" 2>&1 </dev/null 9>&- &
  echo $! >"$reg_pid"
  if ! wait_for 20 curl -fsS -o /dev/null "$reg_url"; then
    tail -n 20 "$reg_log" >&2 || true
    die "registry did not answer $reg_url within 20 s (log: $reg_log)"
  fi
fi

# ---------------------------------------------------------------- containerd
cd_dir="$state/containerd"
cd_cfg="$cd_dir/config.toml"
cd_pid="$state/containerd.pid"
cd_log="$state/containerd.log"
cd_sock="$cd_dir/containerd.sock"
mkdir -p "$cd_dir/root" "$cd_dir/state" "$cd_dir/opt"

# overlayfs is what real nodes use and is much faster than native (a full copy per snapshot), but
# it needs kernel support and an upper dir on a filesystem that supports it (not overlay-on-overlay
# in some nested containers, not every tmpfs). Probe with a real mount in the same filesystem as
# containerd's root; fall back to native when that fails. The choice is remembered in env.sh.
probe_overlay() {
  local d rc=1
  d="$(mktemp -d "$cd_dir/root/.overlay-probe.XXXXXX")"
  mkdir -p "$d/lower" "$d/upper" "$d/work" "$d/merged"
  touch "$d/lower/f"
  if mount -t overlay overlay -o "lowerdir=$d/lower,upperdir=$d/upper,workdir=$d/work" "$d/merged" 2>/dev/null; then
    [[ -e $d/merged/f ]] && rc=0
    umount "$d/merged" 2>/dev/null || true
  fi
  rm -rf "$d"
  return $rc
}

ctr_ok() { ctr -a "$cd_sock" version >/dev/null 2>&1; }

if is_ours "$cd_pid" "$cd_cfg" && ctr_ok; then
  snapshotter="$(sed -n 's/^# snapshotter: //p' "$cd_cfg")"
  [[ -n $snapshotter ]] || snapshotter=native
else
  if is_ours "$cd_pid" "$cd_cfg"; then # alive but not answering: restart it
    kill "$(<"$cd_pid")" 2>/dev/null || true
    wait_for 10 bash -c "! kill -0 $(<"$cd_pid") 2>/dev/null" || kill -9 "$(<"$cd_pid")" 2>/dev/null || true
  fi
  rm -f "$cd_pid" "$cd_sock" "$cd_sock.ttrpc" # stale sockets from a killed daemon block the bind

  if [[ ${ZC_CONTAINERD_SNAPSHOTTER:-} =~ ^(overlayfs|native)$ ]]; then
    snapshotter="$ZC_CONTAINERD_SNAPSHOTTER"
  elif probe_overlay; then
    snapshotter=overlayfs
  else
    snapshotter=native
  fi

  # Every path lives in our state dir; see eng/lib/containerd-config.sh.
  write_containerd_config "$cd_cfg" "$cd_dir" "$cd_sock" "written by eng/start-services.sh
snapshotter: $snapshotter"

  setsid containerd --config "$cd_cfg" >>"$cd_log" 2>&1 </dev/null 9>&- &
  echo $! >"$cd_pid"
  if ! wait_for 30 ctr_ok; then
    tail -n 20 "$cd_log" >&2 || true
    die "containerd did not answer on $cd_sock within 30 s (log: $cd_log)"
  fi

  # The probe above can pass while containerd's own plugin still refuses (it runs its own checks);
  # then use native rather than fail every pull later.
  if [[ $snapshotter == overlayfs ]] &&
     ! ctr -a "$cd_sock" plugins ls 2>/dev/null | awk '$2 == "overlayfs" && $4 == "ok" {f=1} END {exit !f}'; then
    snapshotter=native
    sed -i 's/^# snapshotter: .*/# snapshotter: native/' "$cd_cfg"
  fi
fi

# ---------------------------------------------------------------- env.sh
# Written atomically: tests may be sourcing it while we run.
cat >"$state/env.sh.tmp" <<EOF
# written by eng/start-services.sh; source it: . $state/env.sh
export ZC_STATE=$state
export ZC_REGISTRY=127.0.0.1:$port
export ZC_CONTAINERD_ADDRESS=$cd_sock
# pass to ctr as --snapshotter (ctr defaults to overlayfs otherwise)
export ZC_CONTAINERD_SNAPSHOTTER=$snapshotter
# podman flags for a private store under the state dir (vfs: works without overlay-in-userns;
# no journald here, so no events). Usage: podman \$ZC_PODMAN_ARGS pull --tls-verify=false REF
export ZC_PODMAN_ARGS="--root $state/podman/root --runroot $state/podman/run --tmpdir $state/podman/tmp --storage-driver vfs --events-backend none"
# The SDK speaks plain HTTP only to localhost and to registries listed here (not to 127.0.0.1 by
# itself), so the SDK's own gzip path needs this to reach the rig's registry.
export DOTNET_CONTAINER_INSECURE_REGISTRIES=127.0.0.1:$port
EOF
mv -f "$state/env.sh.tmp" "$state/env.sh"
