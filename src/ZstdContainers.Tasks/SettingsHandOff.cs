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
    /// The settings registered for this project instance. Missing only when the SDK's targets were
    /// driven in a way our targets did not see (then the defaults apply, with a warning).
    /// </summary>
    public static HandedOffSettings Find(IBuildEngine engine, string repository, IBuildLog log)
    {
        if (((IBuildEngine4)engine).GetRegisteredTaskObject(KeyFor(engine, repository), RegisteredTaskObjectLifetime.Build) is HandedOffSettings settings)
        {
            return settings;
        }
        log.Warning(
            ErrorCodes.SettingsNotHandedOff,
            "ZstdContainers did not receive ContainerLayerCompressionLevel, ContainerRecompressBaseLayers, ContainerLayerCacheDirectory, ContainerLayerSplit or ContainerLayer items for this image (its targets did not run before the SDK's image task), so their defaults apply. Publish with 'dotnet publish -t:PublishContainer'.");
        return new HandedOffSettings(new CompressionOptions { UseZstd = true }, new LayerSplitOptions());
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
