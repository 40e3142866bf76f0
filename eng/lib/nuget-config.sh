# Sourced by eng/bench/run.sh and eng/bench/chunked.sh.
# write_nuget_config DIR FOLDER...: DIR/NuGet.config adding each local FOLDER as a package source.
# It adds folders only and never clears the default sources, so packages not built here (ZstdSharp)
# still restore from wherever the machine's own NuGet configuration points.
write_nuget_config() {
  local dir=$1 folder n=0; shift
  {
    printf '%s\n' '<?xml version="1.0" encoding="utf-8"?>' '<configuration>' '  <packageSources>'
    for folder in "$@"; do
      n=$((n + 1))
      printf '    <add key="zstdcontainers-local-%d" value="%s" />\n' "$n" "$folder"
    done
    printf '%s\n' '  </packageSources>' '</configuration>'
  } >"$dir/NuGet.config"
}
