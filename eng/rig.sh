#!/usr/bin/env bash
# Brings up the whole integration-test rig and prints the path of its env.sh, and nothing else, on
# stdout, so callers can write:
#
#     source "$(eng/rig.sh)"
#
# Steps (each idempotent; a second run takes about a second):
#   install-deps.sh      apt packages, only if a command is missing
#   start-services.sh    registry on 127.0.0.1:${ZC_REGISTRY_PORT:-5077} + private containerd
#   make-base-image.sh   dotnet/aspnet stand-in images pushed to that registry
# State lives in ${ZC_STATE:-/tmp/zstdcontainers-rig}; eng/stop-services.sh stops the services.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
state="${ZC_STATE:-/tmp/zstdcontainers-rig}"

# The child scripts are quiet on success; whatever they do print (errors, tails of logs) must not
# end up in the caller's $(...), so all of it goes to stderr.
"$here/install-deps.sh" >&2
"$here/start-services.sh" >&2
"$here/make-base-image.sh" >&2

# start-services.sh resolved the state dir to an absolute path and wrote it into env.sh.
env_sh="$(cd "$state" && pwd -P)/env.sh"
[[ -r $env_sh ]] || { echo "rig.sh: $env_sh missing after start-services.sh" >&2; exit 1; }
echo "$env_sh"
