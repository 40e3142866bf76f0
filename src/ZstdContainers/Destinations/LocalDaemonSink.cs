namespace ZstdContainers.Destinations;

/// <summary>The local docker or podman (no output registry, no archive path): streamed into <c>load</c>.</summary>
public sealed class LocalDaemonSink(LocalRuntimeKind? runtime, IReadOnlyDictionary<string, string?> environment, IBuildLog log) : IImageSink
{
    public string Verb => "Loaded";

    public string Describe(string repository, IReadOnlyList<string> tags) =>
        $"{repository}:{string.Join(",", ImageSinks.Distinct(tags))} into the local {runtime?.ToString() ?? "container runtime"}";

    public IReadOnlyList<string> ImageNames(string repository, IReadOnlyList<string> tags) => ImageSinks.Names(repository, tags);

    public void CheckWritable()
    {
    }

    public async Task<ShipReport> ShipAsync(ImageSet images, CancellationToken cancellationToken)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var loaded = await new LocalDaemonLoader(runner: null, log, environment)
            .LoadAsync(images, runtime, cancellationToken).ConfigureAwait(false);
        log.Detail($"Loaded into {loaded.Runtime.DisplayName}: {string.Join(", ", loaded.ImageNames)}");
        return ShipReport.AllWritten(images, clock.Elapsed);
    }
}
