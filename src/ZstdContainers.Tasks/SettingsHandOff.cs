using Microsoft.Build.Framework;
using ZstdContainers.Building;
using ZstdContainers.Layers;

namespace ZstdContainers.Tasks;

/// <summary>
/// Passes <see cref="CompressionOptions"/> and <see cref="LayerSplitOptions"/> from <see cref="ResolveZstdContainerSettings"/> to the
/// image tasks of the same project instance through MSBuild's registered task objects (kept for
/// the current build only). MSBuild tells a task neither its project nor its project instance
/// (ProjectFileOfTaskNode is the file the task element is in), so the key is what both sides
/// know of the project instance: the image repository (ContainerRepository, which the SDK has
/// computed by then) and the global properties, which tell apart the per-RID inner builds of a
/// multi-architecture publish.
/// </summary>
internal static class SettingsHandOff
{
    public static void Register(IBuildEngine engine, string repository, HandedOffSettings settings) =>
        ((IBuildEngine4)engine).RegisterTaskObject(KeyFor(engine, repository), settings, RegisteredTaskObjectLifetime.Build, allowEarlyCollection: false);

    /// <summary>
    /// The settings registered for this project instance. A miss is an error, never a silent
    /// fall-back to defaults: it means an image task ran without our targets before it (a target
    /// that calls it directly, or another MSBuild host), and the user's settings would be lost.
    /// </summary>
    public static HandedOffSettings Find(IBuildEngine engine, string repository)
    {
        if (((IBuildEngine4)engine).GetRegisteredTaskObject(KeyFor(engine, repository), RegisteredTaskObjectLifetime.Build) is HandedOffSettings settings)
        {
            return settings;
        }
        throw new ZstdContainersException(
            ErrorCodes.SettingsNotHandedOff,
            $"The image task for '{repository}' ran without the settings ZstdContainers' targets hand it (ContainerLayerCompressionLevel, ContainerRecompressBaseLayers, ContainerLayerCacheDirectory, ContainerLayerSplit, ContainerLayer items), so they would silently be ignored. Publish with 'dotnet publish -t:PublishContainer'; a target of your own that calls CreateNewImage or CreateImageIndex must depend on the _ZstdContainersHandOffSettings target, with ContainerRepository set to the Repository it passes.");
    }

    private static string KeyFor(IBuildEngine engine, string repository)
    {
        var globals = engine is IBuildEngine6 six
            ? string.Join(";", six.GetGlobalProperties().OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase).Select(p => p.Key + "=" + p.Value))
            : string.Empty;
        return "ZstdContainers.Settings|" + repository + "|" + globals;
    }
}

/// <summary>What the settings task hands to the image tasks of the same project instance.</summary>
internal sealed record HandedOffSettings(CompressionOptions Compression, LayerSplitOptions LayerSplit);
