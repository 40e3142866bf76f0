using System.Text;
using System.Text.Json;
using ZstdContainers.Processes;

namespace ZstdContainers.Registry;

/// <summary>
/// The docker-credential-helpers protocol: run <c>docker-credential-NAME get</c>, write the server URL on
/// stdin, read <c>{"ServerURL","Username","Secret"}</c> from stdout. "credentials not found" is not an error.
/// </summary>
internal static class CredentialHelper
{
    internal enum Outcome
    {
        Found,
        NotFound,
        NotInstalled,
    }

    internal sealed record Result(Outcome Outcome, string? Username = null, string? Secret = null, string? ExecutablePath = null);

    public static string ExecutableName(string helper) => "docker-credential-" + helper;

    /// <summary>Finds the helper on the PATH of the given environment snapshot.</summary>
    public static string? FindExecutable(string helper, IReadOnlyDictionary<string, string?> environment)
    {
        var name = ExecutableName(helper);
        if (name.IndexOfAny(['/', '\\']) >= 0)
        {
            return null;
        }
        environment.TryGetValue("PATH", out var path);
        if (string.IsNullOrEmpty(path))
        {
            return null;
        }
        foreach (var dir in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                if (OperatingSystem.IsWindows())
                {
                    return candidate;
                }
                var mode = File.GetUnixFileMode(candidate);
                if ((mode & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0)
                {
                    return candidate;
                }
            }
            if (OperatingSystem.IsWindows() && File.Exists(candidate + ".exe"))
            {
                return candidate + ".exe";
            }
        }
        return null;
    }

    public static async Task<Result> GetAsync(
        string helper,
        string serverUrl,
        IReadOnlyDictionary<string, string?> environment,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        ICommandRunner? runner = null)
    {
        var executable = FindExecutable(helper, environment);
        if (executable is null)
        {
            return new Result(Outcome.NotInstalled);
        }

        // The helper sees the environment snapshot the client was given (PATH, HOME, a helper's own settings).
        var request = new CommandRequest(executable, ["get"])
        {
            Environment = environment,
            StandardInput = (stdin, ct) => stdin.WriteAsync(Encoding.UTF8.GetBytes(serverUrl + "\n"), ct).AsTask(),
        };
        using var timeoutCts = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeoutCts.CancelAfter(timeout);
        CommandResult run;
        try
        {
            run = await (runner ?? ProcessCommandRunner.Instance).RunAsync(request, timeoutCts.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new ZstdContainersException(
                ErrorCodes.CredentialHelperFailed,
                $"The credential helper '{ExecutableName(helper)}' did not answer within {timeout.TotalSeconds:0} s for '{serverUrl}'. " +
                "It may be waiting for interactive input; log in again or fix docker's config.json (credHelpers/credsStore).");
        }
        if (!run.Started)
        {
            throw new ZstdContainersException(
                ErrorCodes.CredentialHelperFailed,
                $"The credential helper '{executable}' could not be started ({run.StandardError}). Fix or remove it from docker's config.json (credHelpers/credsStore).");
        }
        // A helper that exits without reading stdin (run.StandardInputError) is judged by its exit code and output.
        if (run.ExitCode != 0)
        {
            var text = (run.StandardOutput + "\n" + run.StandardError).Trim();
            if (text.Contains("credentials not found", StringComparison.OrdinalIgnoreCase))
            {
                return new Result(Outcome.NotFound, ExecutablePath: executable);
            }
            throw new ZstdContainersException(
                ErrorCodes.CredentialHelperFailed,
                $"The credential helper '{ExecutableName(helper)}' failed for '{serverUrl}' (exit code {run.ExitCode}{Describe(run.StandardOutput, run.StandardError)}). " +
                "Check that it works ('" + ExecutableName(helper) + " get'), log in again, or fix docker's config.json (credHelpers/credsStore).");
        }
        return Parse(helper, serverUrl, run.StandardOutput) with { ExecutablePath = executable };
    }

    internal static Result Parse(string helper, string serverUrl, string stdout)
    {
        try
        {
            using var doc = JsonDocument.Parse(stdout);
            var root = doc.RootElement;
            var username = GetString(root, "Username");
            var secret = GetString(root, "Secret");
            if (string.IsNullOrEmpty(secret))
            {
                return new Result(Outcome.NotFound);
            }
            return new Result(Outcome.Found, username, secret);
        }
        catch (JsonException)
        {
            // Never echo the output: it may hold the secret in a form we failed to parse.
            throw new ZstdContainersException(
                ErrorCodes.CredentialHelperFailed,
                $"The credential helper '{ExecutableName(helper)}' answered for '{serverUrl}' with output that is not the expected JSON. " +
                "Check the helper, or fix docker's config.json (credHelpers/credsStore).");
        }
    }

    private static string? GetString(JsonElement root, string name)
    {
        if (root.ValueKind != JsonValueKind.Object)
        {
            return null;
        }
        foreach (var property in root.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase) && property.Value.ValueKind == JsonValueKind.String)
            {
                return property.Value.GetString();
            }
        }
        return null;
    }

    private static string Describe(string stdout, string stderr)
    {
        // Helpers print their error text on stdout; skip anything that looks like JSON (it could carry a secret).
        var parts = new[] { stdout, stderr }
            .Select(s => s.Trim())
            .Where(s => s.Length > 0 && !s.StartsWith('{'))
            .Select(s => s.ReplaceLineEndings(" "))
            .ToArray();
        if (parts.Length == 0)
        {
            return string.Empty;
        }
        var text = string.Join(" ", parts);
        return ": " + (text.Length > 200 ? text[..200] + "…" : text);
    }
}
