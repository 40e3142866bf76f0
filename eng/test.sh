#!/usr/bin/env bash
# The test command: brings up the rig (apt packages, registry, containerd, stand-in base images),
# then runs the unit and integration tests. Extra arguments go to `dotnet test`.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
source "$("$root/eng/rig.sh")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet test "$root/ZstdContainers.sln" -c Release --logger "console;verbosity=normal" "$@"
