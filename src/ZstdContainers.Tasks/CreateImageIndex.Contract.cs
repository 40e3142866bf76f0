using Microsoft.Build.Framework;

namespace ZstdContainers.Tasks;

/// <summary>The inputs dotnet/sdk main (the .NET 11 line) passes CreateImageIndex beyond SDK 10.0.401's.</summary>
public sealed partial class CreateImageIndex
{
    /// <summary>ContainerAnnotation items; those whose Scope names Index annotate the index.</summary>
    public ITaskItem[] Annotations { get; set; } = [];

    /// <summary>The SDK passes $(SOURCE_DATE_EPOCH); when empty, the environment variable is read.</summary>
    public string SourceDateEpoch { get; set; } = string.Empty;

    /// <summary>
    /// Where the base image is read from: empty or 'registry' (the only source we have), or 'local'
    /// (the local container runtime), which stops with ZSTDC1032.
    /// </summary>
    public string BaseImageSource { get; set; } = string.Empty;
}
