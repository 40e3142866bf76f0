using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>A port the image exposes: its number and tcp or udp.</summary>
public sealed record ExposedPort(int Number, string Type = "tcp");

/// <summary>
/// Everything the SDK's targets computed for one single-platform image — the parameters of its
/// CreateNewImage task, without MSBuild types — plus our compression settings.
/// </summary>
public sealed record ImageRequest
{
    public required ImageReference BaseImage { get; init; }

    public required string RuntimeIdentifier { get; init; }

    public required string PublishDirectory { get; init; }

    public required string WorkingDirectory { get; init; }

    public required string Repository { get; init; }

    public required IReadOnlyList<string> Tags { get; init; }

    /// <summary>Empty means no registry: the image goes to an archive or the local daemon.</summary>
    public string? OutputRegistry { get; init; }

    public string? ArchiveOutputPath { get; init; }

    /// <summary>The local runtime to load into when there is no registry or archive; null: detect one.</summary>
    public Destinations.LocalRuntimeKind? LocalRuntime { get; init; }

    public IReadOnlyList<string> Entrypoint { get; init; } = [];

    public IReadOnlyList<string> EntrypointArgs { get; init; } = [];

    public IReadOnlyList<string> DefaultArgs { get; init; } = [];

    public IReadOnlyList<string> AppCommand { get; init; } = [];

    public IReadOnlyList<string> AppCommandArgs { get; init; } = [];

    /// <summary>Null: inferred from what is set, as the SDK does (see <see cref="EntrypointRules"/>).</summary>
    public AppCommandInstruction? AppCommandInstruction { get; init; }

    public IReadOnlyList<ExposedPort> ExposedPorts { get; init; } = [];

    public IReadOnlyList<KeyValuePair<string, string>> Labels { get; init; } = [];

    public IReadOnlyList<KeyValuePair<string, string>> EnvironmentVariables { get; init; } = [];

    /// <summary>The user the app runs as (user, uid, user:group…); empty: the base image's APP_UID or User.</summary>
    public string? User { get; init; }

    public bool GenerateLabels { get; init; }

    public bool GenerateDigestLabel { get; init; }

    /// <summary>
    /// Add the two creation labels (<see cref="ImageAnnotations.CreatedLabelNames"/>) with the
    /// image's creation time; the .NET 11 targets leave them to the image step (SDK 10 passes them in Labels).
    /// </summary>
    public bool GenerateCreatedLabels { get; init; }

    /// <summary>Annotations for the image manifest (see <see cref="ImageAnnotations.Resolve"/>).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> ManifestAnnotations { get; init; } = [];

    /// <summary>Build the image but do not ship it (a per-RID image of a multi-RID archive or daemon load).</summary>
    public bool SkipPublishing { get; init; }

    public CompressionOptions Compression { get; init; } = new() { UseZstd = true };

    /// <summary>How the publish folder becomes layers; the default is one app layer, as the SDK builds it.</summary>
    public LayerSplitOptions LayerSplit { get; init; } = LayerSplitOptions.None;

    /// <summary>The value of SOURCE_DATE_EPOCH, if any: fixes layer timestamps and `created`.</summary>
    public string? SourceDateEpoch { get; init; }
}
