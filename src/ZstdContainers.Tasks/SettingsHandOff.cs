using Microsoft.Build.Framework;
using ZstdContainers.Building;

namespace ZstdContainers.Tasks;

/// <summary>
/// Passes <see cref="CompressionOptions"/> from <see cref="ResolveZstdContainerSettings"/> to the
/// image tasks of the same project instance through MSBuild's registered task objects (kept for
/// the current build only). The key is the project file plus its global properties, which tell
/// apart the per-RID inner builds of a multi-architecture publish.
/// </summary>
internal static class SettingsHandOff
{
    public static void Register(IBuildEngine engine, CompressionOptions options) =>
        ((IBuildEngine4)engine).RegisterTaskObject(KeyFor(engine), options, RegisteredTaskObjectLifetime.Build, allowEarlyCollection: false);

    public static CompressionOptions? Find(IBuildEngine engine) =>
        ((IBuildEngine4)engine).GetRegisteredTaskObject(KeyFor(engine), RegisteredTaskObjectLifetime.Build) as CompressionOptions;

    private static string KeyFor(IBuildEngine engine)
    {
        var globals = engine is IBuildEngine6 six
            ? string.Join(";", six.GetGlobalProperties().OrderBy(p => p.Key, StringComparer.OrdinalIgnoreCase).Select(p => p.Key + "=" + p.Value))
            : string.Empty;
        return "ZstdContainers.CompressionOptions|" + engine.ProjectFileOfTaskNode + "|" + globals;
    }
}
