#!/usr/bin/env python3
"""Pushes a copy of an image whose layers went through another encoder: same config (same
diff_ids), new layer blobs. For measuring what an encoder setting does to a pull (pull-timeline.sh).

    layer_variant.py REGISTRY SRC_REPO:TAG DEST_REPO:TAG ENCODER [WORKDIR]

ENCODER is a shell command reading the layer's tar on stdin and writing the new blob on stdout,
e.g. "zstd -q -9 --no-check"; "tar" pushes the uncompressed tar (media type ...layer.v1.tar).
Source layers may be gzip or zstd. Prints one line per layer: old size, new size, digest.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from registry import image_manifest, request, split_ref  # noqa: E402

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
TAR = "application/vnd.oci.image.layer.v1.tar"


def push_blob(reg, repo, path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    digest = "sha256:" + h.hexdigest()
    _, hd, _ = request("POST", f"http://{reg}/v2/{repo}/blobs/uploads/")
    loc = hd["Location"]
    loc = loc if loc.startswith("http") else f"http://{reg}{loc}"
    sep = "&" if "?" in loc else "?"
    with open(path, "rb") as f:
        request("PUT", f"{loc}{sep}digest={digest}", data=f.read(),
                headers={"Content-Type": "application/octet-stream"})
    return digest, os.path.getsize(path)


def main(reg, src, dest, encoder, work=None):
    src_repo, src_ref = split_ref(src)
    dest_repo, dest_tag = split_ref(dest)
    _, m = image_manifest(reg, src_repo, src_ref)
    work = work or tempfile.mkdtemp(prefix="layer-variant.")
    _, _, cfg = request("GET", f"http://{reg}/v2/{src_repo}/blobs/{m['config']['digest']}")
    cfg_path = os.path.join(work, "config")
    with open(cfg_path, "wb") as f:
        f.write(cfg)
    push_blob(reg, dest_repo, cfg_path)
    layers = []
    for i, layer in enumerate(m["layers"]):
        src_path = os.path.join(work, f"src-{i}")
        out_path = os.path.join(work, f"out-{i}")
        subprocess.run(["curl", "-fsS", "-o", src_path, f"http://{reg}/v2/{src_repo}/blobs/{layer['digest']}"], check=True)
        decode = "gzip -dc" if layer["mediaType"].endswith("gzip") else "zstd -qdc"
        encode = "cat" if encoder == "tar" else encoder
        subprocess.run(f"{decode} < '{src_path}' | {encode} > '{out_path}'", shell=True, check=True)
        digest, size = push_blob(reg, dest_repo, out_path)
        media = TAR if encoder == "tar" else "application/vnd.oci.image.layer.v1.tar+zstd"
        layers.append({"mediaType": media, "digest": digest, "size": size})
        print(layer["size"], size, digest)
        os.remove(src_path)
        os.remove(out_path)
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": m["config"], "layers": layers}
    body = json.dumps(manifest, separators=(",", ":")).encode()
    request("PUT", f"http://{reg}/v2/{dest_repo}/manifests/{dest_tag}", data=body, headers={"Content-Type": OCI_MANIFEST})


if __name__ == "__main__":
    if len(sys.argv) not in (5, 6):
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
