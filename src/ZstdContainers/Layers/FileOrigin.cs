namespace ZstdContainers.Layers;

/// <summary>
/// Where a file of the publish folder comes from, as the app's deps.json tells it. The order is
/// the layer order, bottom to top: from what changes least often to what changes most often.
/// </summary>
public enum FileOrigin
{
    /// <summary>The .NET runtime pack of a self-contained app (changes with a runtime update).</summary>
    RuntimePack,

    /// <summary>NuGet packages with a release version (change when a dependency is updated).</summary>
    Package,

    /// <summary>NuGet packages with a prerelease version (nightlies and betas move more often).</summary>
    PrereleasePackage,

    /// <summary>Other projects of the solution the app references.</summary>
    ProjectReference,

    /// <summary>The app's own files, and anything the deps file does not own.</summary>
    App,
}

/// <summary>A file the deps file owns: its origin and the library ("Name Version") it belongs to.</summary>
public sealed record OwnedFile(FileOrigin Origin, string Library);
