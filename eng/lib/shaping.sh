# Sourced by eng/demo.sh and eng/bench/run.sh: limits the traffic of ONE loopback port to a link
# rate with `tc`, so a registry on 127.0.0.1:PORT behaves like one across a real network.
#
#   source eng/lib/shaping.sh
#   shaping_on 5090 400mbit     # everything sent from or to port 5090 on lo: at most 400 Mbit/s
#   ...                         # measure
#   shaping_off                 # also runs by itself on exit (trap), whatever happens
#
#   with_shaping 5090 400mbit CMD ARGS...   # CMD (a function is fine) runs shaped, then shaping is removed
#
# Shaping on lo is global to the machine, so:
#   - it is taken only under `flock /tmp/zc-tc.lock` (held until shaping_off), so two shapers never
#     fight over lo's root qdisc; a caller waits up to ZC_TC_LOCK_WAIT seconds (default 600);
#   - only the given port is limited: an htb root with no default class sends everything else
#     unclassified, straight through at full speed (other tests on other ports are not touched);
#   - it is removed on every exit the shell can see (EXIT, plus INT/TERM turned into an exit).
#     Only a SIGKILL can leave it behind; then `tc qdisc del dev lo root` removes it.
# Needs root and iproute2's tc.

_zc_tc_lock_fd=""
_zc_tc_port=""

# shaping_on PORT RATE: limits PORT's traffic on lo (both directions) to RATE (tc units, e.g. 400mbit).
shaping_on() {
  local port=$1 rate=$2 fd
  [[ $port =~ ^[0-9]+$ ]] || { echo "shaping_on: '$port' is not a port" >&2; return 1; }
  [[ -z $_zc_tc_port ]] || { echo "shaping_on: already shaping port $_zc_tc_port" >&2; return 1; }
  command -v tc >/dev/null || { echo "shaping_on: tc not found (apt-get install iproute2)" >&2; return 1; }
  exec {fd}>/tmp/zc-tc.lock
  if ! flock -w "${ZC_TC_LOCK_WAIT:-600}" "$fd"; then
    exec {fd}>&-
    echo "shaping_on: another run held /tmp/zc-tc.lock for ${ZC_TC_LOCK_WAIT:-600} s" >&2
    return 1
  fi
  _zc_tc_lock_fd=$fd
  _zc_tc_port=$port
  _zc_shaping_trap
  # A root qdisc on lo that is not the default one was left by someone who did not take the lock
  # (or a killed run): refuse rather than remove what we did not create.
  if tc qdisc show dev lo | grep -q '^qdisc htb 1: root'; then
    echo "shaping_on: lo already has an htb root qdisc that this run did not add; remove it with 'tc qdisc del dev lo root' if it is stale" >&2
    _zc_tc_port=""
    shaping_off
    return 1
  fi
  # burst: lo's packets are up to 64 KiB (GSO), so let a class send a few of them back to back.
  tc qdisc add dev lo root handle 1: htb &&
    tc class add dev lo parent 1: classid 1:10 htb rate "$rate" ceil "$rate" burst 256k cburst 256k quantum 70000 &&
    tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip sport "$port" 0xffff flowid 1:10 &&
    tc filter add dev lo parent 1: protocol ip prio 1 u32 match ip dport "$port" 0xffff flowid 1:10 || {
    echo "shaping_on: tc failed; removing what was added" >&2
    shaping_off
    return 1
  }
}

# shaping_off: removes the shaping (if this shell added it) and releases the lock. Safe to call twice.
shaping_off() {
  if [[ -n $_zc_tc_port ]]; then
    tc qdisc del dev lo root 2>/dev/null || true
    _zc_tc_port=""
  fi
  if [[ -n $_zc_tc_lock_fd ]]; then
    flock -u "$_zc_tc_lock_fd" 2>/dev/null || true
    exec {_zc_tc_lock_fd}>&-
    _zc_tc_lock_fd=""
  fi
}

# with_shaping PORT RATE CMD...: runs CMD shaped; shaping is removed however CMD ends. Returns CMD's status.
with_shaping() {
  local port=$1 rate=$2 status=0
  shift 2
  shaping_on "$port" "$rate" || return 1
  "$@" || status=$?
  shaping_off
  return "$status"
}

# Adds shaping_off in front of the caller's EXIT trap (kept), and turns INT/TERM into an exit so
# the EXIT trap runs on Ctrl+C and kill too.
_zc_shaping_trap() {
  local existing=""
  # `trap -p` prints the handler quoted for the shell: let the shell unquote it.
  if [[ -n $(trap -p EXIT) ]]; then eval "set -- $(trap -p EXIT)"; existing=$3; fi
  [[ $existing == *shaping_off* ]] && return 0
  # shellcheck disable=SC2064 # expand the existing handler now, on purpose
  trap "shaping_off${existing:+; $existing}" EXIT
  [[ -n $(trap -p INT) ]] || trap 'exit 130' INT
  [[ -n $(trap -p TERM) ]] || trap 'exit 143' TERM
}
