#!/usr/bin/env bash
# The demo: on a fresh machine, sets up a local registry + containerd + a stand-in aspnet base
# image, packs ZstdContainers, publishes samples/HelloZstd twice (the SDK's gzip path, then zstd),
# prints the image sizes and publish times side by side, then runs the zstd image in containerd
# and calls it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
source "$("$root/eng/rig.sh")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

# A unique version, so NuGet never serves a stale copy of an earlier pack from its cache.
version="0.1.0-demo.$(date +%s)"
echo "== packing ZstdContainers $version"
dotnet pack "$root/src/ZstdContainers.Tasks" -c Release -o "$root/artifacts/packages" -p:Version="$version" -nologo -v:q >/dev/null

sample="$root/samples/HelloZstd"
common=(-c Release -nologo -p:ZstdContainersVersion="$version"
        -p:ContainerBaseImage="$ZC_REGISTRY/dotnet/aspnet:10.0" -p:ContainerRegistry="$ZC_REGISTRY")
dotnet restore "$sample" -p:ZstdContainersVersion="$version" -nologo -v:q >/dev/null
dotnet publish "$sample" "${common[@]}" -v:q >/dev/null   # warm the build so the timings below are the container step

publish() { # $1 = compression, $2 = repository
  local start end
  start=$(date +%s.%N)
  dotnet publish "$sample" "${common[@]}" --no-restore -t:PublishContainer \
    -p:ContainerLayerCompression="$1" -p:ContainerRepository="$2" -p:ContainerImageTag=demo -v:n \
    | grep -E "ZSTDC|error|warn| layer |uploaded|Pushed" >&2 || true
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
image_bytes() { # total of config + layers as stored in the registry
  skopeo inspect --raw --tls-verify=false "docker://$ZC_REGISTRY/$1:demo" \
    | jq '[.config.size] + [.layers[].size] | add'
}
echo "== publishing with the SDK alone (gzip)"
gzip_time=$(publish gzip samples/hello-gzip 2>/dev/null | tail -1)
echo "== publishing with ZstdContainers (zstd, level 3)"
zstd_time=$(publish zstd samples/hello-zstd | tail -1)

gzip_bytes=$(image_bytes samples/hello-gzip)
zstd_bytes=$(image_bytes samples/hello-zstd)
echo
printf '%-28s %14s %14s\n' "" "SDK (gzip)" "ZstdContainers"
printf '%-28s %14s %14s\n' "image bytes" "$gzip_bytes" "$zstd_bytes"
printf '%-28s %14.2f %14.2f\n' "publish step, seconds" "$gzip_time" "$zstd_time"
echo "zstd image = $(echo "scale=1; 100*$zstd_bytes/$gzip_bytes" | bc)% of the gzip image"
echo "media types: $(skopeo inspect --raw --tls-verify=false "docker://$ZC_REGISTRY/samples/hello-zstd:demo" | jq -r '[.mediaType] + [.layers[].mediaType] | unique | join(", ")')"

echo "== running the zstd image in containerd"
ref="$ZC_REGISTRY/samples/hello-zstd:demo"
ctr=(ctr -a "$ZC_CONTAINERD_ADDRESS")
"${ctr[@]}" images rm "$ref" >/dev/null 2>&1 || true
"${ctr[@]}" images pull --plain-http --snapshotter "$ZC_CONTAINERD_SNAPSHOTTER" "$ref" >/dev/null
name="hello-zstd-demo-$$"
"${ctr[@]}" run -d --net-host --snapshotter "$ZC_CONTAINERD_SNAPSHOTTER" --env ASPNETCORE_HTTP_PORTS=18080 "$ref" "$name" >/dev/null
trap '"${ctr[@]}" task kill -s SIGKILL "$name" >/dev/null 2>&1 || true; sleep 1; "${ctr[@]}" task rm "$name" >/dev/null 2>&1 || true; "${ctr[@]}" containers rm "$name" >/dev/null 2>&1 || true' EXIT
for _ in $(seq 1 50); do
  if reply=$(curl -fsS http://127.0.0.1:18080/ 2>/dev/null); then break; fi
  sleep 0.2
done
echo "GET http://127.0.0.1:18080/ -> ${reply:-no answer}"
[[ -n ${reply:-} ]]
