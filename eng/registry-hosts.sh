#!/usr/bin/env bash
# Makes a host name for the TLS registry tests resolve to 127.0.0.1, by adding it to /etc/hosts when it
# does not resolve yet. Idempotent; quiet on success.
#
# Why a name: 127.0.0.1 and localhost are insecure registries by rule (plain HTTP, no certificate check,
# as with docker and the SDK), so a test of certificate verification needs a registry with a real name.
# The SDK only accepts registry names with a dot (or localhost), so a bare machine name will not do.
# ".test" is reserved for testing (RFC 2606): it never means a real host.
#
#     eng/registry-hosts.sh [NAME]      (default zc-registry.test; must run as root to change /etc/hosts)
set -euo pipefail

name="${1:-zc-registry.test}"
resolves_to_loopback() { getent ahostsv4 "$name" 2>/dev/null | awk '{print $1}' | grep -q '^127\.'; }

resolves_to_loopback && exit 0
[[ $(id -u) -eq 0 ]] || { echo "registry-hosts.sh: '$name' does not resolve; run as root to add it to /etc/hosts" >&2; exit 1; }
printf '127.0.0.1\t%s\t# ZstdContainers TLS registry tests (eng/registry-hosts.sh)\n' "$name" >>/etc/hosts
resolves_to_loopback || { echo "registry-hosts.sh: added '$name' to /etc/hosts, but it still does not resolve to 127.0.0.1" >&2; exit 1; }
