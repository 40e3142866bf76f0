using Microsoft.Build.Framework;

namespace ZstdContainers.Tasks;

/// <summary>
/// The inputs of the SDK's CreateNewImage beyond those of SDK 10.0.401's targets: what dotnet/sdk
/// main (the .NET 11 line) passes, and what its task declares for its out-of-process variant.
/// MSBuild binds task parameters exactly, so each must exist here or a zstd publish fails with
/// MSB4064 (tests/contract/sdk-task-contract.md lists them with the commit they were read from).
/// </summary>
public sealed partial class CreateNewImage
{
    /// <summary>The SDK passes $(SOURCE_DATE_EPOCH); when empty, the environment variable is read (SDK 10 passes nothing).</summary>
    public string SourceDateEpoch { get; set; } = string.Empty;

    /// <summary>Add the org.opencontainers.image.created and .artifact.created labels (the .NET 11 targets no longer put them in Labels).</summary>
    public bool GenerateCreatedLabels { get; set; }

    /// <summary>ContainerAnnotation items; those whose Scope names Manifest (or has no Scope) annotate the manifest.</summary>
    public ITaskItem[] Annotations { get; set; } = [];

    /// <summary>
    /// ContainerPushNoCache: push even when the registry already has this image. Our push always
    /// writes the manifest under every tag and skips only blobs the registry holds by the same
    /// digest, so this changes nothing here.
    /// </summary>
    public bool NoCache { get; set; }

    /// <summary>The SDK's archive incremental cache: accepted, no effect (see the README, "Newer SDKs").</summary>
    public bool EnableArchiveIncrementalCache { get; set; }

    public string ArchiveIncrementalCachePath { get; set; } = string.Empty;

    /// <summary>Declared by the SDK's task for its ToolTask variant (containerize.dll); unused here.</summary>
    public string ContainerizeDirectory { get; set; } = string.Empty;

    public string ToolExe { get; set; } = string.Empty;

    public string ToolPath { get; set; } = string.Empty;
}
