#!/usr/bin/env python3
"""Small distribution-API helper for the benchmark (stdlib only, plain-HTTP local registries).

    registry.py runtime-deps REGISTRY SRC_REPO:TAG DEST_REPO:TAG
        Pushes a stand-in for mcr.microsoft.com/dotnet/runtime-deps (the SDK's base for
        self-contained apps): the linux/amd64 image of SRC with only its first layer (the OS
        rootfs), mounted from SRC, and a config without the .NET variables. Prints its digest.
    registry.py image-bytes REGISTRY REPO[:TAG|@DIGEST]
        Config + layer sizes of the image (linux/amd64 when it is an index).
    registry.py new-bytes REGISTRY OLD NEW
        Sizes of NEW's config and layers that OLD does not have (what a push of NEW after OLD uploads).
    registry.py blob-bytes REGISTRY REF DIGEST...
        Sizes of REF's manifest, config and layers that are among DIGEST... (e.g. what a pull added).
"""
import hashlib
import json
import sys
import urllib.request

INDEX_TYPES = ("application/vnd.oci.image.index.v1+json",
               "application/vnd.docker.distribution.manifest.list.v2+json")
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + ("application/vnd.oci.image.manifest.v1+json",
                                           "application/vnd.docker.distribution.manifest.v2+json"))


def request(method, url, data=None, headers=None):
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    with urllib.request.urlopen(req) as r:
        return r.status, dict(r.headers), r.read()


def split_ref(ref):
    """repo:tag, repo@digest or repo (latest) -> (repo, reference)"""
    if "@" in ref:
        return tuple(ref.split("@", 1))
    repo, _, tag = ref.rpartition(":")
    return (repo, tag) if repo and "/" not in tag else (ref, "latest")


def image_manifest(reg, repo, ref):
    """(manifest bytes, manifest) of the linux/amd64 image REF names"""
    _, h, body = request("GET", f"http://{reg}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT})
    m = json.loads(body)
    if h.get("Content-Type") in INDEX_TYPES or "manifests" in m:
        d = next(x["digest"] for x in m["manifests"]
                 if x["platform"]["os"] == "linux" and x["platform"]["architecture"] == "amd64")
        return image_manifest(reg, repo, d)
    return body, m


def blobs(m):
    """digest -> size of a manifest's config and layers"""
    return {d["digest"]: d["size"] for d in [m["config"]] + m["layers"]}


def image_bytes(reg, ref):
    print(sum(blobs(image_manifest(reg, *split_ref(ref))[1]).values()))


def new_bytes(reg, old, new):
    before = blobs(image_manifest(reg, *split_ref(old))[1])
    print(sum(size for d, size in blobs(image_manifest(reg, *split_ref(new))[1]).items() if d not in before))


def blob_bytes(reg, ref, *digests):
    body, m = image_manifest(reg, *split_ref(ref))
    sizes = blobs(m)
    sizes["sha256:" + hashlib.sha256(body).hexdigest()] = len(body)
    print(sum(sizes.get(d, 0) for d in set(digests)))


def runtime_deps(reg, src, dest):
    src_repo, src_tag = src.rsplit(":", 1)
    dest_repo, dest_tag = dest.rsplit(":", 1)
    _, m = image_manifest(reg, src_repo, src_tag)
    _, _, cfg_body = request("GET", f"http://{reg}/v2/{src_repo}/blobs/{m['config']['digest']}")
    cfg = json.loads(cfg_body)
    cfg["rootfs"]["diff_ids"] = cfg["rootfs"]["diff_ids"][:1]
    cfg["history"] = [h for h in cfg.get("history", []) if not h.get("empty_layer")][:1]
    cfg["config"]["Env"] = [e for e in cfg["config"].get("Env", [])
                            if not e.startswith(("DOTNET_VERSION=", "ASPNET_VERSION=", "DOTNET_ROOT="))]
    cfg_bytes = json.dumps(cfg, separators=(",", ":"), sort_keys=True).encode()
    cfg_digest = "sha256:" + hashlib.sha256(cfg_bytes).hexdigest()

    layer = m["layers"][0]
    status, _, _ = request("POST", f"http://{reg}/v2/{dest_repo}/blobs/uploads/?mount={layer['digest']}&from={src_repo}")
    if status != 201:
        raise SystemExit(f"mount of {layer['digest']} from {src_repo} answered {status}")
    _, h, _ = request("POST", f"http://{reg}/v2/{dest_repo}/blobs/uploads/")
    loc = h["Location"]
    loc = loc if loc.startswith("http") else f"http://{reg}{loc}"
    sep = "&" if "?" in loc else "?"
    request("PUT", f"{loc}{sep}digest={cfg_digest}", data=cfg_bytes, headers={"Content-Type": "application/octet-stream"})

    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cfg_digest, "size": len(cfg_bytes)},
        "layers": [layer],
    }
    body = json.dumps(manifest, separators=(",", ":")).encode()
    request("PUT", f"http://{reg}/v2/{dest_repo}/manifests/{dest_tag}", data=body,
            headers={"Content-Type": manifest["mediaType"]})
    print("sha256:" + hashlib.sha256(body).hexdigest())


if __name__ == "__main__":
    commands = {"runtime-deps": (runtime_deps, 3), "image-bytes": (image_bytes, 2), "new-bytes": (new_bytes, 3),
                "blob-bytes": (blob_bytes, 2)}
    cmd = commands.get(sys.argv[1] if len(sys.argv) > 1 else "")
    if cmd and (len(sys.argv) - 2 == cmd[1] or (cmd[0] is blob_bytes and len(sys.argv) - 2 >= cmd[1])):
        cmd[0](*sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
