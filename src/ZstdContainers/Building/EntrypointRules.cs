namespace ZstdContainers.Building;

/// <summary>The Entrypoint and Cmd an image gets.</summary>
public sealed record EntrypointAndCmd(IReadOnlyList<string> Entrypoint, IReadOnlyList<string> Cmd);

/// <summary>
/// Decides Entrypoint and Cmd from the ContainerEntrypoint/ContainerAppCommand family exactly as
/// the SDK does (so a project gets the same start command with either compression):
/// AppCommandInstruction "Entrypoint" puts the app command in Entrypoint, "DefaultArgs" puts it
/// in Cmd after a user Entrypoint, "None" leaves the app command out. When the instruction is
/// empty it is inferred from what is set.
/// </summary>
public static class EntrypointRules
{
    public const string Entrypoint = "Entrypoint";
    public const string DefaultArgs = "DefaultArgs";
    public const string None = "None";

    public static EntrypointAndCmd Decide(ImageRequest request, IReadOnlyList<string> baseEntrypoint, IBuildLog log)
    {
        var entrypoint = request.Entrypoint;
        var entrypointArgs = request.EntrypointArgs;
        var defaultArgs = request.DefaultArgs;
        var appCommand = request.AppCommand;
        var appCommandArgs = request.AppCommandArgs;
        var instruction = string.IsNullOrWhiteSpace(request.AppCommandInstruction) ? null : request.AppCommandInstruction.Trim();

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
                    instruction = None;
                }
                else
                {
                    instruction = DefaultArgs;
                }
            }
            else
            {
                if (baseEntrypoint.Count > 0)
                {
                    log.Warning(
                        ErrorCodes.BaseEntrypointOverwritten,
                        $"The base image's Entrypoint [{string.Join(", ", baseEntrypoint)}] is replaced by the app command. Set ContainerAppCommandInstruction to 'DefaultArgs' to keep it and pass the app command as its arguments, or to 'Entrypoint' to silence this warning.");
                }
                instruction = Entrypoint;
            }
        }

        if (entrypointArgs.Count > 0 && entrypoint.Count == 0)
        {
            throw Invalid(ErrorCodes.EntrypointArgsWithoutEntrypoint, "ContainerEntrypointArgs is set but ContainerEntrypoint is not. Set ContainerEntrypoint, or move the arguments to ContainerDefaultArgs.");
        }
        if (appCommandArgs.Count > 0 && appCommand.Count == 0)
        {
            throw Invalid(ErrorCodes.AppCommandArgsWithoutAppCommand, "ContainerAppCommandArgs is set but ContainerAppCommand is empty. Set ContainerAppCommand, or remove ContainerAppCommandArgs.");
        }

        switch (instruction)
        {
            case None:
                if (appCommand.Count > 0 || appCommandArgs.Count > 0)
                {
                    throw Invalid(ErrorCodes.AppCommandWithInstructionNone, "ContainerAppCommandInstruction is 'None', which leaves the app command out of the image, yet ContainerAppCommand or ContainerAppCommandArgs is set. Remove them, or choose 'Entrypoint' or 'DefaultArgs'.");
                }
                return new EntrypointAndCmd(entrypoint.Count > 0 ? [.. entrypoint, .. entrypointArgs] : baseEntrypoint, defaultArgs);
            case DefaultArgs:
                return new EntrypointAndCmd(entrypoint.Count > 0 ? [.. entrypoint, .. entrypointArgs] : baseEntrypoint, [.. appCommand, .. appCommandArgs, .. defaultArgs]);
            case Entrypoint:
                if (entrypoint.Count > 0 || entrypointArgs.Count > 0)
                {
                    throw Invalid(ErrorCodes.EntrypointWithInstructionEntrypoint, "ContainerAppCommandInstruction is 'Entrypoint', which makes the app command the Entrypoint, yet ContainerEntrypoint or ContainerEntrypointArgs is set too. Remove them, or set ContainerAppCommandInstruction to 'DefaultArgs'.");
                }
                return new EntrypointAndCmd(appCommand.Count > 0 ? [.. appCommand, .. appCommandArgs] : baseEntrypoint, defaultArgs);
            default:
                throw Invalid(ErrorCodes.InvalidAppCommandInstruction, $"ContainerAppCommandInstruction is '{instruction}'. Allowed values (case-sensitive, as in the SDK): Entrypoint, DefaultArgs, None.");
        }
    }

    private static ZstdContainersException Invalid(string code, string message) => new(code, message);
}
