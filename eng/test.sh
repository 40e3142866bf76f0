#!/usr/bin/env bash
# The test command: brings up the rig (apt packages, registry, containerd, stand-in base images),
# then runs the unit tests and the integration tests. Extra arguments go to both `dotnet test` runs.
# The two run one after the other: the integration tests drive `dotnet publish`, containerd and
# podman; the unit tests need neither.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
source "$("$root/eng/rig.sh")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet test "$root/tests/ZstdContainers.Tests" -c Release --logger "console;verbosity=normal" "$@"
dotnet test "$root/tests/ZstdContainers.IntegrationTests" -c Release --logger "console;verbosity=normal" "$@"
