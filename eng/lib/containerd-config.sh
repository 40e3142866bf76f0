# Sourced by eng/start-services.sh and eng/bench/run.sh.
# write_containerd_config FILE DIR SOCKET [HEADER]: a containerd config whose every path lives in
# DIR (root, state, opt) with its gRPC socket at SOCKET, so it never touches /var/lib/containerd,
# /run/containerd or /opt/containerd. Debug and metrics endpoints stay off. CRI is disabled (only
# ctr is used, and CRI would want CNI config), and so are the snapshotters never used here
# (devmapper logs a warning on every start otherwise). HEADER lines go at the top as comments.
write_containerd_config() {
  local file=$1 dir=$2 sock=$3 header=${4:-}
  {
    if [[ -n $header ]]; then printf '%s\n' "$header" | sed 's/^/# /'; fi
    cat <<EOF
version = 2
root = "$dir/root"
state = "$dir/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]

[grpc]
  address = "$sock"

[ttrpc]
  address = "$sock.ttrpc"

[debug]
  address = ""
  level = "warn"

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "$dir/opt"
EOF
  } >"$file"
}
