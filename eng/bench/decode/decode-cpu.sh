#!/usr/bin/env bash
# CPU seconds containerd 1.6 (Debian) spends decoding a layer blob, outside containerd: decode.go
# built against the klauspost/compress its package links (1.15.12, zstd.NewReader with default
# options, as archive/compression does) and Go 1.19's compress/gzip and crypto/sha256.
#
#   eng/bench/decode/decode-cpu.sh zstd|gzip|sha BLOB...
#
# Prints, per BLOB, the minimum and median user+system seconds of 7 runs (CPU time moves much less
# than wall time when other work shares the machine). Installs golang-1.19-go and
# golang-github-klauspost-compress-dev with apt-get when missing. `sha` hashes the file as it is
# (a tar: what containerd's diff_id check costs).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
mode=$1; shift
bin=/tmp/zc-decode-bench
if [[ ! -x $bin ]]; then
  [[ -x /usr/lib/go-1.19/bin/go && -d /usr/share/gocode/src/github.com/klauspost/compress ]] ||
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends golang-1.19-go golang-github-klauspost-compress-dev >/dev/null
  (cd "$here" && GOPATH=/usr/share/gocode GO111MODULE=off /usr/lib/go-1.19/bin/go build -o "$bin" decode.go)
fi
for f in "$@"; do
  for _ in 1 2 3 4 5 6 7; do /usr/bin/time -f '%U %S' "$bin" "$mode" "$f" 2>&1 >/dev/null | awk '{ print $1 + $2 }'; done | sort -n |
    awk -v f="$f" -v m="$mode" -v s="$(stat -c %s "$f")" '{ a[NR] = $1 } END { printf "%-4s %-40s %10d B  cpu min %.2f s, median %.2f s\n", m, f, s, a[1], a[4] }'
done
