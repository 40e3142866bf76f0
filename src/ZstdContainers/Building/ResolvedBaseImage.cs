using System.Text.Json.Nodes;
using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>The base image for one platform: its manifest, config and where it lives.</summary>
public sealed record ResolvedBaseImage(
    ImageReference Reference,
    Digest ManifestDigest,
    ImageManifest Manifest,
    JsonObject Config,
    IReadOnlyList<Digest> DiffIds,
    Platform Platform);
