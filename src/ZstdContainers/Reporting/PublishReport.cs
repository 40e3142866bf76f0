namespace ZstdContainers.Reporting;

/// <summary>
/// What one publish did, written as <c>zstdcontainers-report.json</c> next to the build output and
/// rendered as Markdown for CI job summaries. Field names are a contract for scripts: add, never rename.
/// </summary>
public sealed record PublishReport
{
    public int SchemaVersion { get; init; } = 1;

    /// <summary>"ZstdContainers 0.1.0".</summary>
    public required string Tool { get; init; }

    /// <summary>pushed, written (archive), loaded (docker/podman) or built (not shipped yet).</summary>
    public required string Destination { get; init; }

    /// <summary>The first name the image got, e.g. "registry.example/app:1.2".</summary>
    public required string Image { get; init; }

    /// <summary>Every name (one per tag).</summary>
    public required IReadOnlyList<string> Names { get; init; }

    /// <summary>For a registry push: the image pinned by digest ("registry.example/app@sha256:…"); else null.</summary>
    public string? ImageByDigest { get; init; }

    public required string ManifestDigest { get; init; }

    public required string ManifestMediaType { get; init; }

    /// <summary>"linux/amd64".</summary>
    public required string Platform { get; init; }

    public required string BaseImage { get; init; }

    public required string BaseManifestDigest { get; init; }

    /// <summary>"zstd" or "zstd:chunked".</summary>
    public required string Compression { get; init; }

    public required int Level { get; init; }

    /// <summary>In the manifest's order.</summary>
    public required IReadOnlyList<LayerReport> Layers { get; init; }

    public required BlobReport Config { get; init; }

    public required ReportTotals Totals { get; init; }
}

/// <summary>One layer: where it came from, its bytes before and after, what was done, how long it took.</summary>
public sealed record LayerReport
{
    /// <summary>"base" for a base-image layer; "app" or the layer's origin name for layers built from the publish folder.</summary>
    public required string Origin { get; init; }

    public required string Digest { get; init; }

    public required string DiffId { get; init; }

    public required string MediaType { get; init; }

    /// <summary>Base layers: the blob's size as pulled from the base image. Null for layers built here.</summary>
    public long? BytesPulled { get; init; }

    /// <summary>Layers built here: the uncompressed tar's size. Null for base layers.</summary>
    public long? TarBytes { get; init; }

    /// <summary>The layer's size in the image (what a node downloads).</summary>
    public required long BytesPushed { get; init; }

    /// <summary>Bytes sent to the destination for it: BytesPushed when uploaded, else 0.</summary>
    public required long BytesSent { get; init; }

    /// <summary>built, transcoded, from cache (local layer cache), reused (kept as the base had it), from registry cache.</summary>
    public required string Prepared { get; init; }

    /// <summary>uploaded, already present, mounted, reused from registry cache, written, not shipped.</summary>
    public required string Transfer { get; init; }

    public required double PrepareSeconds { get; init; }

    public required double TransferSeconds { get; init; }
}

/// <summary>The config blob's fate.</summary>
public sealed record BlobReport(string Digest, long Bytes, string Transfer);

public sealed record ReportTotals
{
    public required int Layers { get; init; }

    /// <summary>Base layers as pulled.</summary>
    public required long BytesPulled { get; init; }

    /// <summary>Config plus every layer: the image's size.</summary>
    public required long BytesPushed { get; init; }

    /// <summary>What actually crossed the wire to the destination (0 when everything was there).</summary>
    public required long BytesSent { get; init; }

    public required double Seconds { get; init; }
}

/// <summary>How a layer was prepared (the report spells it "built", "transcoded", "from cache", "reused", "from registry cache").</summary>
public enum LayerPreparation
{
    Built,
    Transcoded,
    FromCache,
    Reused,

    /// <summary>A zstd copy found in the target registry (an image named as a layer cache, or the tags being pushed).</summary>
    FromRegistryCache,
}
