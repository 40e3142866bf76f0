using Microsoft.Build.Framework;
using ZstdContainers.Building;

namespace ZstdContainers.Tasks;

/// <summary>
/// Checks our properties early in PublishContainer, before the SDK computes the image or touches
/// the network, so a typo fails in a second instead of after a build. It also hands the parsed
/// settings to the image tasks: those are called by the SDK's own targets with the SDK's
/// parameters only, so our properties cannot reach them as parameters.
/// </summary>
public sealed class ResolveZstdContainerSettings : CoreTask
{
    public string? ContainerLayerCompression { get; set; }

    public string? ContainerLayerCompressionLevel { get; set; }

    public string? ContainerRecompressBaseLayers { get; set; }

    public string? ContainerLayerCacheDirectory { get; set; }

    public string? ContainerImageFormat { get; set; }

    public string? ContainerLayerSplit { get; set; }

    /// <summary>The ContainerLayer items: user-defined layers (name, Files, After).</summary>
    public ITaskItem[]? ContainerLayers { get; set; }

    public string? ContainerBaseLayerCompressionLevel { get; set; }

    /// <summary>Image references (';' or ',' separated) whose zstd layers may be reused by diff_id.</summary>
    public string? ContainerLayerCacheFrom { get; set; }

    /// <summary>The project's obj/ folder: per-RID builds hand their blobs to the index step there.</summary>
    public string? IntermediateDirectory { get; set; }

    /// <summary>
    /// The computed ContainerRepository. Empty for the early check; set when handing the settings
    /// to the image tasks, right before they run.
    /// </summary>
    public string? Repository { get; set; }

    protected override System.Threading.Tasks.Task RunAsync(IBuildLog log, CancellationToken cancellationToken)
    {
        var options = CompressionSettings.Parse(ContainerLayerCompression, ContainerLayerCompressionLevel, ContainerRecompressBaseLayers, ContainerImageFormat);
        if (!string.IsNullOrWhiteSpace(ContainerLayerCacheDirectory))
        {
            options = options with { CacheDirectory = Path.GetFullPath(ContainerLayerCacheDirectory.Trim()) };
        }
        var layerSplit = LayerSplitSettings.Parse(ContainerLayerSplit, ContainerLayers);
        options = options with { BaseLevel = ParseBaseLevel(ContainerBaseLayerCompressionLevel), CacheFrom = ParseCacheFrom(ContainerLayerCacheFrom) };
        if (!string.IsNullOrWhiteSpace(IntermediateDirectory))
        {
            var intermediate = Path.GetFullPath(Path.Combine(IntermediateDirectory.Trim(), "zstdcontainers"));
            options = options with
            {
                HandOffDirectory = Path.Combine(intermediate, "handoff"),
                AppLayerRecordFile = Path.Combine(intermediate, "app-layers.json"),
            };
        }
        if (!string.IsNullOrEmpty(Repository))
        {
            SettingsHandOff.Register(BuildEngine, Repository, new HandedOffSettings(options, layerSplit));
        }
        return System.Threading.Tasks.Task.CompletedTask;
    }

    internal static int? ParseBaseLevel(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        if (!CompressionSettings.TryParseLevel(text, out var level))
        {
            throw new ZstdContainersException(
                ErrorCodes.InvalidBaseCompressionLevel,
                $"ContainerBaseLayerCompressionLevel is '{text}', but it must be a whole number from 1 to 22 (the zstd level of recompressed base layers, which are compressed once per registry; default {CompressionOptions.DefaultBaseLevel}).");
        }
        return level;
    }

    internal static List<string> ParseCacheFrom(string? text)
    {
        var entries = (text ?? string.Empty).Split([';', ','], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).ToList();
        foreach (var entry in entries)
        {
            if (ZstdContainers.Caching.CacheFromReference.Parse(entry, "output.registry") is null)
            {
                throw new ZstdContainersException(
                    ErrorCodes.InvalidLayerCacheFrom,
                    $"ContainerLayerCacheFrom has '{entry}', which is not an image reference. Use references like 'myregistry.io/app:cache' (several separated by ';'), on the registry the image is pushed to.");
            }
        }
        return entries;
    }
}
