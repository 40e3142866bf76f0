# Sourced by eng/demo.sh, eng/bench/run.sh and eng/bench/chunked.sh: each runs a registry of its own
# on a free loopback port, so it never throttles, fills or empties the shared test rig's registry.

# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_for SECONDS COMMAND...: retry COMMAND (quietly) until it succeeds; 1 when time runs out.
wait_for() { local deadline=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 0.2; done; }

# start_private_registry DIR LOG [ACCESSLOG]: a Distribution registry storing under DIR/registry,
# its config at DIR/registry.yml, its output in LOG; ACCESSLOG=true keeps the access log (to count
# requests). Sets PRIVATE_REGISTRY to host:port and appends the server's pid to the caller's `pids`
# array (the caller's trap stops it). Returns 1 when it does not answer within 20 s.
start_private_registry() {
  local dir=$1 log=$2 access=${3:-false} disabled=true
  [[ $access == true ]] && disabled=false
  PRIVATE_REGISTRY="127.0.0.1:$(free_port)"
  mkdir -p "$dir/registry"
  cat >"$dir/registry.yml" <<EOF
version: 0.1
log: { level: warn, accesslog: { disabled: $disabled } }
storage:
  filesystem: { rootdirectory: $dir/registry }
  cache: { blobdescriptor: inmemory }
http:
  addr: $PRIVATE_REGISTRY
  secret: $(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')
EOF
  setsid docker-registry serve "$dir/registry.yml" >"$log" 2>&1 </dev/null &
  pids+=($!)
  wait_for 20 curl -fsS "http://$PRIVATE_REGISTRY/v2/"
}
