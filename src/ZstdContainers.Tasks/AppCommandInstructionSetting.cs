using ZstdContainers.Building;

namespace ZstdContainers.Tasks;

/// <summary>The SDK's AppCommandInstruction parameter (ContainerAppCommandInstruction), read into the core's type.</summary>
internal static class AppCommandInstructionSetting
{
    /// <summary>Empty: null (the core infers it). Otherwise one of the three names, case-sensitive as in the SDK.</summary>
    public static AppCommandInstruction? Parse(string? text)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        return text.Trim() switch
        {
            nameof(AppCommandInstruction.Entrypoint) => AppCommandInstruction.Entrypoint,
            nameof(AppCommandInstruction.DefaultArgs) => AppCommandInstruction.DefaultArgs,
            nameof(AppCommandInstruction.None) => AppCommandInstruction.None,
            var other => throw new ZstdContainersException(
                ErrorCodes.InvalidAppCommandInstruction,
                $"ContainerAppCommandInstruction is '{other}'. Allowed values (case-sensitive, as in the SDK): Entrypoint, DefaultArgs, None."),
        };
    }
}
