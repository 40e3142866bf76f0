using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>One per-RID image as the inner builds reported it (the GeneratedContainer items).</summary>
public sealed record GeneratedImage(string Manifest, string Configuration, string ManifestDigest, string ManifestMediaType);

/// <summary>The parameters of the SDK's CreateImageIndex task, without MSBuild types.</summary>
public sealed record ImageIndexRequest
{
    public required IReadOnlyList<GeneratedImage> Images { get; init; }

    public required ImageReference BaseImage { get; init; }

    public required string Repository { get; init; }

    public required IReadOnlyList<string> Tags { get; init; }

    public string? OutputRegistry { get; init; }

    public string? ArchiveOutputPath { get; init; }

    /// <summary>The local runtime to load into when there is no registry or archive; null: detect one.</summary>
    public Destinations.LocalRuntimeKind? LocalRuntime { get; init; }

    /// <summary>Annotations for the image index (see <see cref="ImageAnnotations.Resolve"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> IndexAnnotations { get; init; } = [];

    public CompressionOptions Compression { get; init; } = new() { UseZstd = true };

    public string? SourceDateEpoch { get; init; }
}
