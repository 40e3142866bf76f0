namespace ZstdContainers.Building;

/// <summary>The Entrypoint and Cmd an image gets.</summary>
public sealed record EntrypointAndCmd(IReadOnlyList<string> Entrypoint, IReadOnlyList<string> Cmd);

/// <summary>Where the app command goes: the SDK's three choices.</summary>
public enum AppCommandInstruction
{
    /// <summary>The app command is the Entrypoint.</summary>
    Entrypoint,

    /// <summary>The app command is the Cmd, after the user's or the base image's Entrypoint.</summary>
    DefaultArgs,

    /// <summary>The app command is left out.</summary>
    None,
}

/// <summary>
/// Decides Entrypoint and Cmd from the user's entrypoint, app command and their arguments exactly as
/// the SDK does (so a project gets the same start command with either compression):
/// <see cref="AppCommandInstruction"/> says where the app command goes; when the user gives none
/// it is inferred from what is set.
/// </summary>
public static class EntrypointRules
{
    public static EntrypointAndCmd Decide(ImageRequest request, IReadOnlyList<string> baseEntrypoint, IBuildLog log)
    {
        var entrypoint = request.Entrypoint;
        var entrypointArgs = request.EntrypointArgs;
        var defaultArgs = request.DefaultArgs;
        var appCommand = request.AppCommand;
        var appCommandArgs = request.AppCommandArgs;
        var instruction = request.AppCommandInstruction;

        // Microsoft's images set Entrypoint ["dotnet"]; an app command replaces it, so treat it as unset.
        if (baseEntrypoint is ["dotnet"] or ["/usr/bin/dotnet"])
        {
            baseEntrypoint = [];
        }

        if (instruction is null)
        {
            if (entrypoint.Count > 0 || entrypointArgs.Count > 0)
            {
                if (defaultArgs.Count == 0 && appCommandArgs.Count == 0 && entrypoint.Count == 0)
                {
                    // Only EntrypointArgs given: the app command is the entrypoint, the args its default arguments.
                    entrypoint = appCommand;
                    appCommand = [];
                    defaultArgs = entrypointArgs;
                    entrypointArgs = [];
                    instruction = AppCommandInstruction.None;
                }
                else
                {
                    instruction = AppCommandInstruction.DefaultArgs;
                }
            }
            else
            {
                if (baseEntrypoint.Count > 0)
                {
                    log.Warning(
                        ErrorCodes.BaseEntrypointOverwritten,
                        $"The base image's Entrypoint [{string.Join(", ", baseEntrypoint)}] is replaced by the app command. Set {UserSetting.AppCommandInstruction} to 'DefaultArgs' to keep it and pass the app command as its arguments, or to 'Entrypoint' to silence this warning.");
                }
                instruction = AppCommandInstruction.Entrypoint;
            }
        }

        if (entrypointArgs.Count > 0 && entrypoint.Count == 0)
        {
            throw Invalid(ErrorCodes.EntrypointArgsWithoutEntrypoint, $"{UserSetting.EntrypointArgs} is set but {UserSetting.Entrypoint} is not. Set {UserSetting.Entrypoint}, or move the arguments to {UserSetting.DefaultArgs}.");
        }
        if (appCommandArgs.Count > 0 && appCommand.Count == 0)
        {
            throw Invalid(ErrorCodes.AppCommandArgsWithoutAppCommand, $"{UserSetting.AppCommandArgs} is set but {UserSetting.AppCommand} is empty. Set {UserSetting.AppCommand}, or remove {UserSetting.AppCommandArgs}.");
        }

        switch (instruction)
        {
            case AppCommandInstruction.None:
                if (appCommand.Count > 0 || appCommandArgs.Count > 0)
                {
                    throw Invalid(ErrorCodes.AppCommandWithInstructionNone, $"{UserSetting.AppCommandInstruction} is 'None', which leaves the app command out of the image, yet {UserSetting.AppCommand} or {UserSetting.AppCommandArgs} is set. Remove them, or choose 'Entrypoint' or 'DefaultArgs'.");
                }
                return new EntrypointAndCmd(entrypoint.Count > 0 ? [.. entrypoint, .. entrypointArgs] : baseEntrypoint, defaultArgs);
            case AppCommandInstruction.DefaultArgs:
                return new EntrypointAndCmd(entrypoint.Count > 0 ? [.. entrypoint, .. entrypointArgs] : baseEntrypoint, [.. appCommand, .. appCommandArgs, .. defaultArgs]);
            case AppCommandInstruction.Entrypoint:
                if (entrypoint.Count > 0 || entrypointArgs.Count > 0)
                {
                    throw Invalid(ErrorCodes.EntrypointWithInstructionEntrypoint, $"{UserSetting.AppCommandInstruction} is 'Entrypoint', which makes the app command the Entrypoint, yet {UserSetting.Entrypoint} or {UserSetting.EntrypointArgs} is set too. Remove them, or set {UserSetting.AppCommandInstruction} to 'DefaultArgs'.");
                }
                return new EntrypointAndCmd(appCommand.Count > 0 ? [.. appCommand, .. appCommandArgs] : baseEntrypoint, defaultArgs);
            default:
                throw new ArgumentOutOfRangeException(nameof(request), instruction, "Not an app command instruction.");
        }
    }

    private static ZstdContainersException Invalid(string code, string message) => new(code, message);
}
