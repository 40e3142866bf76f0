using Microsoft.Build.Framework;
using ZstdContainers.Layers;

namespace ZstdContainers.Tasks;

/// <summary>
/// ContainerLayerSplit and the ContainerLayer items, read into the core's <see cref="LayerSplitOptions"/>:
/// <c>&lt;ContainerLayer Include="models" Files="models/**;*.onnx" After="packages" /&gt;</c> puts the
/// matching files (relative to the publish folder) in a layer named "models", directly above the
/// NuGet packages layer.
/// </summary>
public static class LayerSplitSettings
{
    public const string FilesMetadata = "Files";
    public const string AfterMetadata = "After";

    /// <param name="split">ContainerLayerSplit: empty (true: split by origin, the default with zstd), true or false.</param>
    /// <param name="layers">ContainerLayer items: the name, Files (';'-separated globs) and After (where it goes).</param>
    public static LayerSplitOptions Parse(string? split, ITaskItem[]? layers)
    {
        var text = (split ?? string.Empty).Trim();
        var splitByOrigin = true;
        if (text.Length > 0 && !bool.TryParse(text, out splitByOrigin))
        {
            throw new ZstdContainersException(
                ErrorCodes.InvalidLayerSplit,
                $"ContainerLayerSplit is '{split}', but it must be 'true' (the app's files go into layers by how often they change: runtime, NuGet packages, prerelease packages, project references, the app; the default) or 'false' (one app layer, as the SDK builds it).");
        }
        var custom = (layers ?? []).Select(item => new CustomLayer(
            item.ItemSpec,
            item.GetMetadata(FilesMetadata).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            Or(item.GetMetadata(AfterMetadata), LayerPartitioner.ProjectsLayer))).ToList();
        LayerPartitioner.CheckCustomLayers(custom);
        return new LayerSplitOptions { SplitByOrigin = splitByOrigin, CustomLayers = custom };
    }

    private static string Or(string value, string fallback) => string.IsNullOrWhiteSpace(value) ? fallback : value;
}
