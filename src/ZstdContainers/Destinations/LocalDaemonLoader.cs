using System.Globalization;
using ZstdContainers.Oci;
using ZstdContainers.Processes;

namespace ZstdContainers.Destinations;

/// <summary>The local container tools an image can be loaded into.</summary>
public enum LocalRuntimeKind
{
    Docker,
    Podman,
}

/// <summary>A local runtime that answered its probe.</summary>
/// <param name="Command">The CLI to run ("docker" or "podman").</param>
/// <param name="Version">Docker Engine (server) version, or podman's version; null when not reported.</param>
public sealed record LocalRuntime(LocalRuntimeKind Kind, string Command, string? Version)
{
    public string DisplayName => Kind switch
    {
        LocalRuntimeKind.Docker => Version is null ? "Docker" : $"Docker Engine {Version}",
        _ => Version is null ? "Podman" : $"Podman {Version}",
    };
}

/// <summary>What a load did.</summary>
/// <param name="ImageNames">The names the archive gave the image (<c>repository:tag</c>).</param>
/// <param name="Output">The CLI's stdout, e.g. "Loaded image: myapp:1.0".</param>
public sealed record LocalLoadResult(LocalRuntime Runtime, IReadOnlyList<string> ImageNames, string Output);

/// <summary>
/// Loads an image into the local docker or podman, as the .NET SDK does when no registry is
/// named: the archive from <see cref="OciArchiveWriter"/> is streamed straight into the stdin of
/// <c>docker load</c> / <c>podman load</c> (no temporary file), and the CLI's stderr becomes the
/// error message when it fails.
/// </summary>
/// <remarks>
/// The user picks the tool (<see cref="LocalRuntimeKind"/>), or leaves it to detection — docker
/// when the CLI is on PATH and its daemon answers <c>docker version</c>, else podman when
/// <c>podman version</c> works. Docker Engine reads zstd layers from 23.0 on; an older engine is
/// refused up front (ZSTDC4004) instead of failing on the first layer.
/// </remarks>
public sealed class LocalDaemonLoader
{
    /// <summary>The first Docker Engine release that pulls and loads zstd-compressed layers (moby/moby#41759).</summary>
    public static readonly Version FirstDockerEngineWithZstd = new(23, 0);

    private static readonly TimeSpan DefaultProbeTimeout = TimeSpan.FromSeconds(30);
    private const int MaxToolOutputInMessage = 4000;

    private readonly ICommandRunner _runner;
    private readonly IBuildLog _log;
    private readonly IReadOnlyDictionary<string, string?>? _environment;

    /// <param name="runner">How commands run; <see cref="ProcessCommandRunner"/> when null.</param>
    /// <param name="environment">
    /// Variables set for every command on top of the inherited environment (e.g. STORAGE_DRIVER=vfs,
    /// DOCKER_HOST); a null value removes a variable.
    /// </param>
    public LocalDaemonLoader(ICommandRunner? runner = null, IBuildLog? log = null, IReadOnlyDictionary<string, string?>? environment = null)
    {
        _runner = runner ?? ProcessCommandRunner.Instance;
        _log = log ?? NullBuildLog.Instance;
        _environment = environment;
    }

    /// <summary>How long <c>docker version</c> / <c>podman version</c> may take before the tool counts as unavailable.</summary>
    public TimeSpan ProbeTimeout { get; init; } = DefaultProbeTimeout;

    /// <summary>Finds the runtime the user asks for (null: the first that answers) and checks it answers.</summary>
    /// <exception cref="ZstdContainersException">ZSTDC4001 when nothing answers.</exception>
    public async Task<LocalRuntime> FindRuntimeAsync(LocalRuntimeKind? requested, CancellationToken cancellationToken)
    {
        LocalRuntimeKind[] candidates = requested is { } kind ? [kind] : [LocalRuntimeKind.Docker, LocalRuntimeKind.Podman];

        var failures = new List<string>();
        foreach (var candidate in candidates)
        {
            var (runtime, failure) = await ProbeAsync(candidate, cancellationToken).ConfigureAwait(false);
            if (runtime is not null)
            {
                _log.Detail($"Local runtime: {runtime.DisplayName} ('{runtime.Command}').");
                return runtime;
            }
            _log.Detail($"Local runtime {CommandOf(candidate)} unavailable: {failure}");
            failures.Add($"{CommandOf(candidate)}: {failure}");
        }

        var instead = $"or set {UserSetting.Registry} to push the image to a registry, or {UserSetting.ArchiveOutputPath} to write it to a tar file instead.";
        var message = requested is null
            ? $"No local container runtime answered, so there is nothing to load the image into. {EndSentence("Tried " + string.Join("; ", failures.Select(TrimSentence)))} Start Docker (Engine {FirstDockerEngineWithZstd} or newer reads zstd layers) or install Podman; {instead}"
            : $"{UserSetting.LocalRuntime} is '{requested}', but {EndSentence(failures[0])} Make {CommandOf(requested.Value)} work, or set {UserSetting.LocalRuntime} to the other runtime (or leave it empty to use whichever answers); {instead}";
        throw new ZstdContainersException(ErrorCodes.LocalDaemonUnavailable, message);
    }

    /// <summary>Finds the runtime and streams <paramref name="content"/> into its <c>load</c> command.</summary>
    /// <exception cref="ZstdContainersException">
    /// ZSTDC4001 (no runtime), ZSTDC4004 (Docker Engine too old for zstd), ZSTDC4002 (the
    /// load failed), ZSTDC4003 (a layer does not match its descriptor).
    /// </exception>
    public async Task<LocalLoadResult> LoadAsync(ImageSet content, LocalRuntimeKind? requested, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(content);
        content.Validate();
        var runtime = await FindRuntimeAsync(requested, cancellationToken).ConfigureAwait(false);
        EnsureReadsZstd(runtime, content);

        var names = content.ImageNames;
        _log.Info($"Loading {string.Join(", ", names)} into {runtime.DisplayName}.");

        // Docker's containerd image store keeps io.containerd.image.name verbatim and finds images
        // by their qualified name; its classic store reads manifest.json, unaffected either way.
        var loaded = runtime.Kind == LocalRuntimeKind.Docker
            ? content with { ContainerdNaming = ContainerdImageNaming.DockerQualified }
            : content;

        // podman's oci-archive loader takes one name per archive, and only a single-platform
        // archive has the docker manifest.json it falls back to for several names. So a
        // multi-platform image goes to podman under its first tag and gets the others by `podman tag`.
        var tags = content.DistinctTags();
        IReadOnlyList<string> tagAfterLoad = [];
        if (runtime.Kind == LocalRuntimeKind.Podman && !content.IsSinglePlatform && tags.Count > 1)
        {
            loaded = loaded with { Tags = [tags[0]] };
            tagAfterLoad = tags.Skip(1).ToList();
        }

        var request = new CommandRequest(runtime.Command, ["load"])
        {
            Environment = _environment,
            StandardInput = (stdin, ct) => OciArchiveWriter.WriteAsync(stdin, loaded, ct),
        };
        var result = await RunAsync(runtime, request, content, cancellationToken).ConfigureAwait(false);
        foreach (var line in Lines(result.StandardOutput))
        {
            _log.Detail($"{runtime.Command} load: {line}");
        }

        foreach (var tag in tagAfterLoad)
        {
            var source = content.Repository + ":" + tags[0];
            var target = content.Repository + ":" + tag;
            await RunAsync(runtime, new CommandRequest(runtime.Command, ["tag", source, target]) { Environment = _environment }, content, cancellationToken)
                .ConfigureAwait(false);
            _log.Detail($"{runtime.Command} tag {source} {target}");
        }

        _log.Detail($"Loaded {string.Join(", ", names)} into {runtime.DisplayName}.");
        return new LocalLoadResult(runtime, names, result.StandardOutput);
    }

    private async Task<CommandResult> RunAsync(LocalRuntime runtime, CommandRequest request, ImageSet content, CancellationToken cancellationToken)
    {
        var result = await _runner.RunAsync(request, cancellationToken).ConfigureAwait(false);
        if (!result.Started)
        {
            throw new ZstdContainersException(
                ErrorCodes.LocalDaemonUnavailable,
                $"\"{request.DisplayText}\" could not be started although '{runtime.Command}' answered a moment ago: {EndSentence(result.StandardError)} Check that {runtime.Command} is on PATH for the build, or set {UserSetting.Registry} or {UserSetting.ArchiveOutputPath} instead.");
        }
        if (!result.Succeeded)
        {
            throw new ZstdContainersException(ErrorCodes.LocalDaemonLoadFailed, LoadFailureMessage(runtime, request, result, content));
        }
        return result;
    }

    private async Task<(LocalRuntime? Runtime, string? Failure)> ProbeAsync(LocalRuntimeKind kind, CancellationToken cancellationToken)
    {
        var command = CommandOf(kind);
        // docker: the server version proves the daemon answers (the client alone prints its own
        // version and exits 1). podman has no daemon; the client version proves it runs.
        var request = new CommandRequest(
            command,
            kind == LocalRuntimeKind.Docker
                ? ["version", "--format", "{{.Server.Version}}"]
                : ["version", "--format", "{{.Client.Version}}"])
        {
            Environment = _environment,
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ProbeTimeout);
        CommandResult result;
        try
        {
            result = await _runner.RunAsync(request, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (null, $"\"{request.DisplayText}\" did not answer within {ProbeTimeout.TotalSeconds:0} s");
        }

        if (!result.Started)
        {
            return (null, $"not found on PATH ({result.StandardError.Trim()})");
        }
        var version = result.StandardOutput.Trim();
        if (result.ExitCode != 0 || version.Length == 0)
        {
            var why = FirstLines(result.StandardError.Trim(), 3);
            var daemon = kind == LocalRuntimeKind.Docker ? "the CLI is installed but its daemon did not answer" : "it is installed but does not work";
            return (null, $"{daemon}: \"{request.DisplayText}\" exited with code {result.ExitCode}{(why.Length == 0 ? string.Empty : ": " + why)}");
        }
        return (new LocalRuntime(kind, command, version), null);
    }

    /// <summary>Docker Engine before 23.0 cannot decompress zstd layers; say so before streaming gigabytes.</summary>
    private static void EnsureReadsZstd(LocalRuntime runtime, ImageSet content)
    {
        if (runtime.Kind != LocalRuntimeKind.Docker || !TryParseEngineVersion(runtime.Version, out var version))
        {
            return;
        }
        var hasZstd = content.Images.SelectMany(i => i.Layers)
            .Any(l => MediaTypes.LayerCompressionOf(l.Descriptor.MediaType) == LayerCompression.Zstd);
        if (hasZstd && version < FirstDockerEngineWithZstd)
        {
            throw new ZstdContainersException(
                ErrorCodes.LocalDaemonTooOld,
                $"The local Docker Engine is {runtime.Version}, which cannot read zstd-compressed layers (Docker Engine {FirstDockerEngineWithZstd} and newer can). Upgrade Docker Engine, or build this image with {UserSetting.LayerCompression}=gzip, or push it with {UserSetting.Registry} to a registry whose clients support zstd.");
        }
    }

    /// <summary>
    /// Docker Engine versions are YY.MM[.patch] since 17.03. A leading number below 17 is not a
    /// Docker Engine version we can judge (e.g. podman answering as "docker"), so it is not checked.
    /// </summary>
    internal static bool TryParseEngineVersion(string? text, out Version version)
    {
        version = new Version(0, 0);
        if (string.IsNullOrWhiteSpace(text))
        {
            return false;
        }
        var numbers = text.Trim().Split('.', 3);
        if (numbers.Length < 2
            || !int.TryParse(numbers[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            || !int.TryParse(new string(numbers[1].TakeWhile(char.IsAsciiDigit).ToArray()), NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            || major < 17)
        {
            return false;
        }
        version = new Version(major, minor);
        return true;
    }

    private static string LoadFailureMessage(LocalRuntime runtime, CommandRequest request, CommandResult result, ImageSet content)
    {
        var output = Tail(WithoutProgress(result.StandardError).Length > 0 ? WithoutProgress(result.StandardError) : WithoutProgress(result.StandardOutput));
        var what = result.ExitCode != 0
            ? $"\"{request.DisplayText}\" failed with exit code {result.ExitCode}"
            : $"\"{request.DisplayText}\" stopped reading the image archive before its end ({result.StandardInputError?.Message})";
        var check = runtime.Kind == LocalRuntimeKind.Docker
            ? $"Check that the Docker daemon is running, has free disk space and is Docker Engine {FirstDockerEngineWithZstd} or newer (zstd layers)"
              + (content.IsSinglePlatform ? string.Empty : "; a multi-platform image loads only when Docker uses the containerd image store")
            : "Check that podman's storage works (podman info) and has free disk space";
        return $"{EndSentence(what + (output.Length == 0 ? string.Empty : ": " + output))} The image was not loaded into {runtime.DisplayName}. {check}; or set {UserSetting.Registry} to push the image to a registry, or {UserSetting.ArchiveOutputPath} to write it to a tar file and load it yourself.";
    }

    /// <summary>podman reports each copy step on stderr; in an error message only the errors matter.</summary>
    private static readonly string[] ProgressPrefixes =
        ["Getting image source signatures", "Copying blob ", "Copying config ", "Writing manifest to image destination", "Storing signatures"];

    private static string WithoutProgress(string output) => string.Join(
        "\n",
        Lines(output).Where(line => !ProgressPrefixes.Any(p => line.StartsWith(p, StringComparison.Ordinal))));

    /// <summary>Tool output in the middle of our sentence: trimmed, without its own final full stop.</summary>
    private static string TrimSentence(string text) => text.Trim().TrimEnd('.');

    /// <summary>Text that ends a sentence: trimmed, with a full stop unless it already ends with . ? or !.</summary>
    private static string EndSentence(string text)
    {
        var trimmed = text.Trim();
        return trimmed.Length == 0 || trimmed[^1] is '.' or '?' or '!' ? trimmed : trimmed + ".";
    }

    private static string CommandOf(LocalRuntimeKind kind) => kind == LocalRuntimeKind.Docker ? "docker" : "podman";

    private static IEnumerable<string> Lines(string text) =>
        text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    private static string FirstLines(string text, int count) => string.Join(" ", Lines(text).Take(count));

    private static string Tail(string text) =>
        text.Length <= MaxToolOutputInMessage ? text : "…" + text[^MaxToolOutputInMessage..];
}
