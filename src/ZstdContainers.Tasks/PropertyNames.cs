namespace ZstdContainers.Tasks;

/// <summary>
/// The MSBuild property (or item) by which the user sets each <see cref="UserSetting"/> the core
/// names in its messages: the core says "set {setting:RecompressBaseLayers}=false", the build log
/// says "set ContainerRecompressBaseLayers=false". Every line the core logs goes through
/// <see cref="Render"/> (see <see cref="TaskLog"/>).
/// </summary>
internal static class PropertyNames
{
    private static readonly Dictionary<UserSetting, string> Names = new()
    {
        [UserSetting.BaseImage] = "ContainerBaseImage",
        [UserSetting.Registry] = "ContainerRegistry",
        [UserSetting.Repository] = "ContainerRepository",
        [UserSetting.ArchiveOutputPath] = "ContainerArchiveOutputPath",
        [UserSetting.LocalRuntime] = "LocalRegistry",
        [UserSetting.RuntimeIdentifier] = "ContainerRuntimeIdentifier",
        [UserSetting.RuntimeIdentifiers] = "ContainerRuntimeIdentifiers",
        [UserSetting.LayerCompression] = "ContainerLayerCompression",
        [UserSetting.RecompressBaseLayers] = "ContainerRecompressBaseLayers",
        [UserSetting.LayerCacheDirectory] = "ContainerLayerCacheDirectory",
        [UserSetting.Entrypoint] = "ContainerEntrypoint",
        [UserSetting.EntrypointArgs] = "ContainerEntrypointArgs",
        [UserSetting.DefaultArgs] = "ContainerDefaultArgs",
        [UserSetting.AppCommand] = "ContainerAppCommand",
        [UserSetting.AppCommandArgs] = "ContainerAppCommandArgs",
        [UserSetting.AppCommandInstruction] = "ContainerAppCommandInstruction",
    };

    /// <summary>The property name; the core's own name if one were missing (a unit test sees that none is).</summary>
    public static string Of(UserSetting setting) => Names.GetValueOrDefault(setting, setting.Id);

    public static bool IsNamed(UserSetting setting) => Names.ContainsKey(setting);

    /// <summary>A message of the core's as the MSBuild user reads it.</summary>
    public static string Render(string message) => UserSetting.Render(message, Of);
}
