# Sourced by eng/bench/run.sh and eng/bench/chunked.sh: what both benchmarks set up the same way.
# The caller sets `root` (the repository), `run` (its run folder), `jsonl` (its results file) and a
# `pids` array, and calls these; nothing here runs when sourced except the environment below.
bench_lib="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
source "$bench_lib/../../lib/private-registry.sh"
source "$bench_lib/../../lib/nuget-config.sh"
source "$bench_lib/../../lib/node-disk.sh"

export PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_CLI_USE_MSBUILD_SERVER=0 MSBUILDDISABLENODEREUSE=1
export DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

say() { printf '\n== %s  [%s]\n' "$*" "$(date -u +%T)" >&2; }
die() { echo "$(basename "$0"): $*" >&2; exit 1; }
load() { cut -d' ' -f1-3 /proc/loadavg; }

# now: a timestamp in microseconds; elapsed T0: seconds since T0, three decimals (no subprocess)
now() { local t=${EPOCHREALTIME//[.,]/}; echo "$((10#$t))"; }
elapsed() { local d=$(($(now) - $1)); printf '%d.%03d' $((d / 1000000)) $((d % 1000000 / 1000)); }

# The results file (lib/stats.py writes it; report.py does the statistics):
rec() { python3 "$bench_lib/stats.py" "$jsonl" json "$@"; }        # rec KEY JSON
recs() { python3 "$bench_lib/stats.py" "$jsonl" str "$@"; }        # recs KEY TEXT
samples() { python3 "$bench_lib/stats.py" "$jsonl" samples "$@"; } # samples KEY V1 V2 ...
add_sample() { python3 "$bench_lib/stats.py" "$jsonl" add "$@"; }  # add_sample KEY NAME=VALUE ...
recorded() { python3 "$bench_lib/stats.py" "$jsonl" get "$1"; }    # recorded KEY: prints it

# pack_package VERSION LOG [MSBUILD ARGS]: ZstdContainers from this working tree into artifacts/packages.
pack_package() {
  local v=$1 log=$2; shift 2
  dotnet pack "$root/src/ZstdContainers.Tasks" -c Release -o "$root/artifacts/packages" -p:Version="$v" -nologo -v:q "$@" \
    >"$log" 2>&1 || { tail -20 "$log" >&2; die "dotnet pack failed (log: $log)"; }
}
# remove_package VERSION: from the local feed and from NuGet's global packages folder
remove_package() {
  rm -f "$root/artifacts/packages/ZstdContainers.$1.nupkg"
  rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}/zstdcontainers/$1"
}

# seed_private_registry LOG [ACCESSLOG]: a registry of the run's own (start_private_registry, under
# $run), holding the rig's dotnet/aspnet:10.0 and a dotnet/runtime-deps:10.0 stand-in (the aspnet
# image's OS layer only: the SDK's base for a self-contained app). Sets BREG (host:port), trusts it
# for the SDK, and writes $run/policy.json (skopeo's "accept anything", for copies between them).
seed_private_registry() {
  start_private_registry "$run" "$1" "${2:-false}" || die "private registry did not start (log: $1)"
  BREG=$PRIVATE_REGISTRY
  # The SDK talks plain HTTP only to the registries listed here (one name; it does not split on ",").
  export DOTNET_CONTAINER_INSECURE_REGISTRIES="$BREG"
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$run/policy.json"
  skopeo --policy "$run/policy.json" copy -q --all --preserve-digests --src-tls-verify=false --dest-tls-verify=false \
    "docker://$ZC_REGISTRY/dotnet/aspnet:10.0" "docker://$BREG/dotnet/aspnet:10.0"
  python3 "$bench_lib/registry.py" runtime-deps "$BREG" dotnet/aspnet:10.0 dotnet/runtime-deps:10.0 >/dev/null
}

# copy_sample_a DIR: app (a), a copy of samples/HelloZstd (so a concurrent build of samples/
# elsewhere cannot interfere), restoring from the local package folder
copy_sample_a() {
  mkdir -p "$1"
  cp "$root/samples/HelloZstd/"*.csproj "$root/samples/HelloZstd/"*.cs "$1/"
  write_nuget_config "$1" "$root/artifacts/packages"
}

# app_project DIR NAME DATA_DIR PROPS [PACKAGES]: a web app whose dependencies are the files of
# DATA_DIR copied to its publish folder, or PACKAGES (lib/make_packages.py's output: a version, then
# the ids, from $run/deps-feed); PROPS go into its PropertyGroup (e.g. a RuntimeIdentifier)
app_project() {
  mkdir -p "$1"
  local feeds=("$root/artifacts/packages")
  local deps="<None Include=\"$3/**\" Exclude=\"$3/.gen-stamp\" LinkBase=\"deps\" CopyToPublishDirectory=\"PreserveNewest\" />"
  if [[ -n ${5:-} ]]; then
    local v ids id
    { read -r v; read -r ids; } <<<"$5"
    deps=""
    for id in $ids; do deps+="<PackageReference Include=\"$id\" Version=\"$v\" />"; done
    feeds+=("$run/deps-feed")
  fi
  write_nuget_config "$1" "${feeds[@]}"
  cat >"$1/$2.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk.Web">
  <PropertyGroup>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    $4
    <ZstdContainersVersion Condition="'\$(ZstdContainersVersion)' == ''">0.1.0</ZstdContainersVersion>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="ZstdContainers" Version="\$(ZstdContainersVersion)" />
    $deps
  </ItemGroup>
</Project>
EOF
  set_code "$1" hello
}
set_code() { # DIR TEXT: the one line of an app_project's code that changes between versions
  echo "var app = WebApplication.CreateBuilder(args).Build(); app.MapGet(\"/\", () => \"$2\"); app.Run();" >"$1/Program.cs"
}

# prepare_project PROJECT VERSION NAME [MSBUILD ARGS]: restore with ZstdContainers VERSION, then a
# warm-up publish, so the build is up to date before anything is timed (logs: restore-NAME, warmup-NAME)
prepare_project() {
  local proj=$1 v=$2 name=$3
  dotnet restore "$proj" -p:ZstdContainersVersion="$v" -nologo -v:q >"$run/logs/restore-$name.log" 2>&1 ||
    { tail -20 "$run/logs/restore-$name.log" >&2; die "restore of ($name) failed"; }
  warm_up_project "$@"
}
# warm_up_project PROJECT VERSION NAME [MSBUILD ARGS]: the warm-up publish alone (after a code change)
warm_up_project() {
  local proj=$1 v=$2 name=$3; shift 3
  dotnet publish "$proj" -c Release --no-restore -nologo -p:ZstdContainersVersion="$v" -v:q "$@" >"$run/logs/warmup-$name.log" 2>&1 ||
    { tail -20 "$run/logs/warmup-$name.log" >&2; die "warm-up publish of ($name) failed"; }
}

# image_bytes REPO[:TAG]: config + layer sizes from the manifest in $BREG
image_bytes() { python3 "$bench_lib/registry.py" image-bytes "$BREG" "$1"; }

# stop_pids: the caller's `pids`, asked to stop, then killed after 5 s
stop_pids() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null || true
  done
}
# remove_run_folder: $run, after unmounting what a containerd killed mid-pull may have left
# mounted there (never rm through a mount)
remove_run_folder() {
  unmount_below "$run"
  rm -rf "$run"
}
