namespace ZstdContainers.Layers;

/// <summary>
/// A layer the user asks for: the files matching <see cref="Patterns"/> (relative to the publish
/// folder), placed directly above the layer named by <see cref="After"/> (one of
/// <see cref="LayerPartitioner.Anchors"/>). Several layers with the same anchor stack in the
/// order they were given.
/// </summary>
public sealed record CustomLayer(string Name, IReadOnlyList<string> Patterns, string After = LayerPartitioner.ProjectsLayer);

/// <summary>How the publish folder becomes layers.</summary>
public sealed record LayerSplitOptions
{
    /// <summary>One app layer, as the SDK builds it.</summary>
    public static readonly LayerSplitOptions None = new() { SplitByOrigin = false };

    /// <summary>Split the folder by where each file comes from, as the deps file tells (see <see cref="FileOrigin"/>).</summary>
    public bool SplitByOrigin { get; init; } = true;

    /// <summary>The user's own layers; they take their files first, whether or not the folder is split by origin.</summary>
    public IReadOnlyList<CustomLayer> CustomLayers { get; init; } = [];
}
