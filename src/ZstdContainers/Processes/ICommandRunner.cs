namespace ZstdContainers.Processes;

/// <summary>
/// Runs a command-line tool (docker, podman, a docker credential helper) and reports how it ended. Callers
/// talk to tools only through this, so their tests need no daemon.
/// </summary>
public interface ICommandRunner
{
    /// <summary>
    /// Starts the command, feeds its stdin from <see cref="CommandRequest.StandardInput"/> (or closes
    /// stdin at once when there is none), captures stdout and stderr, and waits for it to exit.
    /// </summary>
    /// <returns>
    /// A result with <see cref="CommandResult.Started"/> = false when the program could not be
    /// started (not on PATH, not executable). When the program stops reading stdin early, the
    /// writer's failure is kept in <see cref="CommandResult.StandardInputError"/> and the run still
    /// waits for the exit code.
    /// </returns>
    /// <exception cref="OperationCanceledException">
    /// <paramref name="cancellationToken"/> was cancelled; the process (and its children) were killed.
    /// </exception>
    /// <remarks>
    /// Any exception from the stdin writer other than a failed write to the process kills the
    /// process and propagates unchanged.
    /// </remarks>
    Task<CommandResult> RunAsync(CommandRequest request, CancellationToken cancellationToken);
}

/// <summary>A command to run.</summary>
/// <param name="FileName">The program, looked up on PATH (e.g. "docker").</param>
/// <param name="Arguments">Passed as they are, no shell quoting involved.</param>
public sealed record CommandRequest(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>
    /// Variables to set (or, with a null value, remove) on top of the inherited environment,
    /// e.g. STORAGE_DRIVER=vfs for podman or DOCKER_HOST.
    /// </summary>
    public IReadOnlyDictionary<string, string?>? Environment { get; init; }

    /// <summary>Writes the process's stdin; the runner closes stdin after it returns.</summary>
    public Func<Stream, CancellationToken, Task>? StandardInput { get; init; }

    /// <summary>For messages: the command line as a user would type it.</summary>
    public string DisplayText => string.Join(' ', new[] { FileName }.Concat(Arguments.Select(Quote)));

    private static string Quote(string argument) =>
        argument.Length > 0 && argument.All(c => char.IsLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '=' or ':')
            ? argument
            : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>How a command ended.</summary>
public sealed record CommandResult
{
    /// <summary>False when the program could not be started at all; the other fields then say why.</summary>
    public required bool Started { get; init; }

    public int ExitCode { get; init; }

    public string StandardOutput { get; init; } = string.Empty;

    public string StandardError { get; init; } = string.Empty;

    /// <summary>Set when writing stdin failed because the process stopped reading it (it exited or closed it).</summary>
    public Exception? StandardInputError { get; init; }

    public bool Succeeded => Started && ExitCode == 0 && StandardInputError is null;

    public static CommandResult NotStarted(string reason) => new() { Started = false, ExitCode = -1, StandardError = reason };
}
