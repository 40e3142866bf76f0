#!/usr/bin/env python3
"""Small distribution-API helper for the benchmark (stdlib only, plain-HTTP local registries).

    registry.py runtime-deps REGISTRY SRC_REPO:TAG DEST_REPO:TAG
        Pushes a stand-in for mcr.microsoft.com/dotnet/runtime-deps (the SDK's base for
        self-contained apps): the linux/amd64 image of SRC with only its first layer (the OS
        rootfs), mounted from SRC, and a config without the .NET variables. Prints its digest.
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


def get_manifest(reg, repo, ref):
    _, h, body = request("GET", f"http://{reg}/v2/{repo}/manifests/{ref}", headers={"Accept": MANIFEST_ACCEPT})
    return h.get("Content-Type"), json.loads(body)


def runtime_deps(reg, src, dest):
    src_repo, src_tag = src.rsplit(":", 1)
    dest_repo, dest_tag = dest.rsplit(":", 1)
    mt, m = get_manifest(reg, src_repo, src_tag)
    if mt in INDEX_TYPES or "manifests" in m:
        d = next(x["digest"] for x in m["manifests"]
                 if x["platform"]["os"] == "linux" and x["platform"]["architecture"] == "amd64")
        mt, m = get_manifest(reg, src_repo, d)
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
    if len(sys.argv) == 5 and sys.argv[1] == "runtime-deps":
        runtime_deps(*sys.argv[2:])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
