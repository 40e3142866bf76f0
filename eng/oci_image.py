#!/usr/bin/env python3
"""Writes OCI image layouts for the test rig (stdlib only; compression via the pigz/zstd CLIs).

Two steps, so the shell script decides what goes where and this file only knows the formats:

  oci_image.py tar --out LAYER.tar [--owner 0:0] [--exclude-contents dev ...] SRC:DEST ...
      Writes a deterministic tar of each host path SRC at archive path DEST (DEST '' or '.' = the
      archive root) and prints its diff_id (sha256 of the uncompressed tar).

  oci_image.py image --layout DIR --ref NAME --format oci|docker --compression gzip|zstd|none
                     [--level N] --platform linux/amd64 [--platform linux/arm64/v8] [--index]
                     --created RFC3339 [--env K=V ...] --layer A.tar --history "what A is" ...
      Compresses the layers into DIR/blobs (once per tar+compression+level, shared between refs),
      writes one config and manifest per platform (all platforms share the same layer blobs) and,
      with --index or several platforms, an image index; then points ref NAME in DIR/index.json at
      the result and prints its digest. `skopeo copy [--all] oci:DIR:NAME docker://...` pushes it.
      --format docker writes DIR/dir/NAME in skopeo's dir: format instead (push: dir:DIR/dir/NAME),
      because skopeo's oci: transport does not resolve refs to Docker manifests.

Deterministic: entries sorted ordinally by archive path, every mtime set to --created, user and
group names dropped (numeric ids kept, or forced with --owner), fixed compressor settings (pigz
and multi-threaded zstd produce the same bytes whatever the thread count), fixed JSON layout.
"""
import argparse
import calendar
import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import tarfile
import time

MT = {
    "oci": {
        "manifest": "application/vnd.oci.image.manifest.v1+json",
        "index": "application/vnd.oci.image.index.v1+json",
        "config": "application/vnd.oci.image.config.v1+json",
        "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
        "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
        "none": "application/vnd.oci.image.layer.v1.tar",
    },
    # Docker v2 schema 2. No zstd here: strict clients refuse it (see DESIGN.md section 1).
    "docker": {
        "manifest": "application/vnd.docker.distribution.manifest.v2+json",
        "index": "application/vnd.docker.distribution.manifest.list.v2+json",
        "config": "application/vnd.docker.container.image.v1+json",
        "gzip": "application/vnd.docker.image.rootfs.diff.tar.gzip",
        "none": "application/vnd.docker.image.rootfs.diff.tar",
    },
}
REF_NAME = "org.opencontainers.image.ref.name"
CHUNK = 1 << 20


def fail(msg):
    print(f"oci_image.py: {msg}", file=sys.stderr)
    sys.exit(1)


def canonical_json(obj):
    # Fixed key order (insertion order of the dicts below), no whitespace: same input, same digest.
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


class HashingWriter:
    """File-like sink that hashes what it writes (tarfile in stream mode only needs write)."""

    def __init__(self, f):
        self.f, self.h, self.size = f, hashlib.sha256(), 0

    def write(self, b):
        self.h.update(b)
        self.size += len(b)
        return self.f.write(b)


# ------------------------------------------------------------------------------------------ tar
def collect(mappings, excludes):
    """Returns {arcname: host path or None (a synthesized parent directory)}."""
    entries = {}
    for mapping in mappings:
        src, sep, dest = mapping.partition(":")
        if not sep:
            fail(f"layer entry '{mapping}' is not SRC:DEST")
        dest = dest.strip("/")
        dest = "" if dest == "." else dest
        if not os.path.lexists(src):
            fail(f"{src} does not exist")
        # parents of DEST, so the layer unpacks on any base (e.g. usr/share/dotnet in a layer of its own)
        parts = dest.split("/") if dest else []
        for i in range(1, len(parts)):
            entries.setdefault("/".join(parts[:i]), None)
        if dest:
            entries[dest] = src
        if os.path.isdir(src) and not os.path.islink(src):
            for root, dirs, files in os.walk(src):
                rel = os.path.relpath(root, src)
                rel = "" if rel == "." else rel
                arc_root = "/".join(p for p in (dest, rel) if p)
                if arc_root in excludes:
                    dirs[:] = []  # keep the directory itself (its entry is added by its parent), drop its contents
                    continue
                for name in dirs + files:
                    entries["/".join(p for p in (arc_root, name) if p)] = os.path.join(root, name)
    return entries


def write_tar(out, mappings, excludes, owner, mtime):
    entries = collect(mappings, set(e.strip("/") for e in excludes))
    tmp = out + ".tmp"
    with open(tmp, "wb") as f:
        sink = HashingWriter(f)
        # "w|": plain stream, no seeking; PAX only where a field needs it (long names, big files).
        with tarfile.open(fileobj=sink, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            # Ordinal sort on the UTF-8 bytes; a parent always comes before its children.
            for arc in sorted(entries, key=lambda a: a.encode()):
                src = entries[arc]
                if src is None:
                    ti = tarfile.TarInfo(arc)
                    ti.type, ti.mode, ti.uid, ti.gid = tarfile.DIRTYPE, 0o755, 0, 0
                else:
                    st = os.lstat(src)
                    if stat.S_ISSOCK(st.st_mode):
                        continue  # sockets cannot be archived and mean nothing in an image
                    # gettarinfo records hard links (second and later paths of an inode become
                    # LNKTYPE entries pointing at the first); the sorted order makes that stable.
                    ti = tar.gettarinfo(src, arc)
                if owner is not None:
                    ti.uid, ti.gid = owner
                ti.uname = ti.gname = ""
                ti.mtime = mtime
                if ti.isreg():
                    with open(src, "rb") as fh:
                        tar.addfile(ti, fh)
                else:
                    tar.addfile(ti)
    os.replace(tmp, out)
    return "sha256:" + sink.h.hexdigest()


# ---------------------------------------------------------------------------------------- layout
class Layout:
    def __init__(self, root):
        self.root = root
        self.blobs = os.path.join(root, "blobs", "sha256")
        os.makedirs(self.blobs, exist_ok=True)
        with open(os.path.join(root, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')
        self.cache_path = os.path.join(root, "zc-layer-cache.json")
        try:
            with open(self.cache_path) as f:
                self.cache = json.load(f)
        except FileNotFoundError:
            self.cache = {}

    def blob_path(self, digest):
        return os.path.join(self.blobs, digest.split(":", 1)[1])

    def put_bytes(self, media_type, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        path = self.blob_path(digest)
        if not os.path.exists(path):
            with open(path + ".tmp", "wb") as f:
                f.write(data)
            os.replace(path + ".tmp", path)
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def put_layer(self, tar_path, compression, level):
        """Returns (digest, size, diff_id) of the compressed layer blob, compressing at most once."""
        st = os.stat(tar_path)
        # Cache key: the tar's identity on disk plus the compressor settings. diff_id is cached too,
        # so a second image with the same layer costs nothing.
        key = f"{os.path.abspath(tar_path)}|{st.st_size}|{st.st_mtime_ns}|{compression}|{level}"
        hit = self.cache.get(key)
        if hit and os.path.exists(self.blob_path(hit["digest"])):
            return hit["digest"], hit["size"], hit["diff_id"]
        diff_id = sha256_file(tar_path)
        tmp = os.path.join(self.blobs, ".incoming")
        if compression == "none":
            shutil.copyfile(tar_path, tmp)
        else:
            if compression == "gzip":
                # -n: no name/timestamp in the gzip header. pigz output does not depend on -p.
                cmd = ["pigz", "-n", f"-{level}", "-c"] if shutil.which("pigz") else ["gzip", "-n", f"-{level}", "-c"]
            else:
                # -T0 (all cores): zstd's multi-threaded format is the same for any thread count >= 1.
                cmd = ["zstd", "-q", f"-{level}", "-T0", "-c", "--no-progress"]
            with open(tar_path, "rb") as src, open(tmp, "wb") as dst:
                r = subprocess.run(cmd, stdin=src, stdout=dst, stderr=subprocess.PIPE)
            if r.returncode != 0:
                fail(f"{' '.join(cmd)} failed on {tar_path}: {r.stderr.decode(errors='replace').strip()}")
        digest = sha256_file(tmp)
        size = os.path.getsize(tmp)
        os.replace(tmp, self.blob_path(digest))
        self.cache[key] = {"digest": digest, "size": size, "diff_id": diff_id}
        with open(self.cache_path + ".tmp", "w") as f:
            json.dump(self.cache, f, indent=1, sort_keys=True)
        os.replace(self.cache_path + ".tmp", self.cache_path)
        return digest, size, diff_id

    def tag(self, ref, desc):
        path = os.path.join(self.root, "index.json")
        try:
            with open(path) as f:
                index = json.load(f)
        except FileNotFoundError:
            index = {"schemaVersion": 2, "mediaType": MT["oci"]["index"], "manifests": []}
        manifests = [m for m in index["manifests"] if m.get("annotations", {}).get(REF_NAME) != ref]
        manifests.append(dict(desc, annotations={REF_NAME: ref}))
        manifests.sort(key=lambda m: m["annotations"][REF_NAME])
        index["manifests"] = manifests
        with open(path + ".tmp", "wb") as f:
            f.write(canonical_json(index))
        os.replace(path + ".tmp", path)


def parse_platform(text):
    parts = text.split("/")
    if len(parts) not in (2, 3) or not all(parts):
        fail(f"platform '{text}' is not os/arch[/variant]")
    p = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        p["variant"] = parts[2]
    return p


def build_image(a):
    kinds = MT[a.format]
    if a.compression not in kinds:
        fail(f"{a.compression} layers are not allowed in {a.format} manifests")
    if len(a.layer) != len(a.history):
        fail("give one --history per --layer")
    platforms = [parse_platform(p) for p in a.platform or ["linux/amd64"]]
    want_index = a.index or len(platforms) > 1
    if want_index and a.format != "oci":
        fail("an index is only written for --format oci here")
    level = a.level if a.level is not None else (6 if a.compression == "gzip" else 3)

    layout = Layout(a.layout)
    layers, diff_ids = [], []
    for tar_path in a.layer:
        digest, size, diff_id = layout.put_layer(tar_path, a.compression, level)
        layers.append({"mediaType": kinds[a.compression], "digest": digest, "size": size})
        diff_ids.append(diff_id)

    manifests = []
    for p in platforms:
        config = {"created": a.created, "architecture": p["architecture"]}
        if "variant" in p:
            config["variant"] = p["variant"]
        config["os"] = p["os"]
        config["config"] = {"Env": a.env}
        config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
        config["history"] = [{"created": a.created, "created_by": h} for h in a.history]
        cdesc = layout.put_bytes(kinds["config"], canonical_json(config))
        manifest = {"schemaVersion": 2, "mediaType": kinds["manifest"], "config": cdesc, "layers": layers}
        mdesc = layout.put_bytes(kinds["manifest"], canonical_json(manifest))
        manifests.append(dict(mdesc, platform=p))

    if want_index:
        index = {"schemaVersion": 2, "mediaType": kinds["index"], "manifests": manifests}
        top = layout.put_bytes(kinds["index"], canonical_json(index))
    else:
        top = {k: v for k, v in manifests[0].items() if k != "platform"}
    if a.format == "oci":
        layout.tag(a.ref, top)
    else:
        # containers/image's oci: transport only resolves refs that point at OCI manifests or
        # indexes, so a Docker v2 manifest is handed to skopeo through its dir: transport instead.
        export_dir(layout, top, os.path.join(a.layout, "dir", a.ref))
    print(top["digest"])


def export_dir(layout, manifest_desc, out):
    """Writes skopeo's dir: format (manifest.json, blobs named by hex digest, version file)."""
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with open(layout.blob_path(manifest_desc["digest"]), "rb") as f:
        manifest_bytes = f.read()
    manifest = json.loads(manifest_bytes)
    for d in [manifest["config"]] + manifest["layers"]:
        src, dst = layout.blob_path(d["digest"]), os.path.join(out, d["digest"].split(":", 1)[1])
        try:
            os.link(src, dst)  # same filesystem: no copy of a 100 MB layer
        except OSError:
            shutil.copyfile(src, dst)
    with open(os.path.join(out, "manifest.json"), "wb") as f:
        f.write(manifest_bytes)
    with open(os.path.join(out, "version"), "w") as f:
        f.write("Directory Transport Version: 1.1\n")


def rfc3339_to_epoch(text):
    try:
        return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        fail(f"--created '{text}' is not YYYY-MM-DDTHH:MM:SSZ")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    t = sub.add_parser("tar", help="write a deterministic layer tar, print its diff_id")
    t.add_argument("--out", required=True)
    t.add_argument("--created", default="2000-01-01T00:00:00Z", help="mtime of every entry")
    t.add_argument("--owner", help="force UID:GID on every entry (default: keep the files' ids)")
    t.add_argument("--exclude-contents", action="append", default=[], metavar="ARCDIR",
                   help="keep this archive directory but none of its contents (e.g. dev, proc)")
    t.add_argument("mappings", nargs="+", metavar="SRC:DEST")

    i = sub.add_parser("image", help="add an image (or index) to an OCI layout under a ref name")
    i.add_argument("--layout", required=True)
    i.add_argument("--ref", required=True)
    i.add_argument("--format", choices=["oci", "docker"], default="oci")
    i.add_argument("--compression", choices=["gzip", "zstd", "none"], default="gzip")
    i.add_argument("--level", type=int)
    i.add_argument("--platform", action="append", help="os/arch[/variant], repeatable")
    i.add_argument("--index", action="store_true", help="write an image index even for one platform")
    i.add_argument("--created", required=True)
    i.add_argument("--env", action="append", default=[])
    i.add_argument("--layer", action="append", default=[], required=True)
    i.add_argument("--history", action="append", default=[])

    a = ap.parse_args()
    if a.cmd == "tar":
        owner = None
        if a.owner:
            try:
                owner = tuple(int(x) for x in a.owner.split(":"))
                assert len(owner) == 2
            except (ValueError, AssertionError):
                fail(f"--owner '{a.owner}' is not UID:GID")
        print(write_tar(a.out, a.mappings, a.exclude_contents, owner, rfc3339_to_epoch(a.created)))
    else:
        rfc3339_to_epoch(a.created)
        build_image(a)


if __name__ == "__main__":
    main()
