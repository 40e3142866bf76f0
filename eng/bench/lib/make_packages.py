#!/usr/bin/env python3
"""Turns the generated dependency folder into local NuGet packages, one per top folder (stdlib only).

    make_packages.py DATA_DIR FEED_DIR RID

App (b) references these packages, so its ~100 MB of dependencies are NuGet dependencies as the
app's deps.json sees them (native assets of the RID, the way packages ship large native libraries
and data), not loose files of the app. Each package is ZcBench.<folder>, with every file of that
folder under runtimes/RID/native/. The version is derived from the data's stamp, so a change to the
data never meets a stale copy in NuGet's global packages folder. Same data, same bytes: entries are
sorted and their timestamps fixed. Prints the package ids and the version.
"""
import hashlib
import os
import sys
import zipfile

data, feed, rid = sys.argv[1], sys.argv[2], sys.argv[3]
stamp = open(os.path.join(data, ".gen-stamp"), "rb").read()
version = f"1.{int(hashlib.sha256(stamp).hexdigest()[:8], 16) % 60000}.0"
os.makedirs(feed, exist_ok=True)
ids = []
for folder in sorted(d for d in os.listdir(data) if os.path.isdir(os.path.join(data, d))):
    pid = f"ZcBench.{folder}"
    ids.append(pid)
    path = os.path.join(feed, f"{pid.lower()}.{version}.nupkg")
    if os.path.exists(path):
        continue
    files = []
    for top, _, names in os.walk(os.path.join(data, folder)):
        files += [os.path.join(top, n) for n in names]
    nuspec = f"""<?xml version="1.0" encoding="utf-8"?>
<package xmlns="http://schemas.microsoft.com/packaging/2013/05/nuspec.xsd">
  <metadata>
    <id>{pid}</id>
    <version>{version}</version>
    <authors>bench</authors>
    <description>Generated dependency data for the ZstdContainers benchmark.</description>
  </metadata>
</package>
"""
    temp = path + ".partial"
    with zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as z:
        def add(name, content):
            info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, content)
        add(f"{pid}.nuspec", nuspec)
        for f in sorted(files):
            # file names are unique across the data set, so flattening into native/ never collides
            add(f"runtimes/{rid}/native/{os.path.basename(f)}", open(f, "rb").read())
    os.replace(temp, path)
print(version)
print(" ".join(ids))
