using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>
/// Where finished images go: a registry, an OCI layout archive or the local docker/podman. Building
/// knows nothing of them; the task picks one (<see cref="ImageSinks.For"/>) and hands it to the publisher.
/// </summary>
public interface IImageSink
{
    /// <summary>"Pushed", "Wrote", "Loaded": the first word of the summary line.</summary>
    string Verb { get; }

    /// <summary>Where the image went, for the summary line.</summary>
    string Describe(string repository, IReadOnlyList<string> tags);

    /// <summary>The names the image is known by afterwards (the task reports them to the SDK's targets).</summary>
    IReadOnlyList<string> ImageNames(string repository, IReadOnlyList<string> tags);

    /// <summary>Fails before any network work when the sink cannot take the image.</summary>
    void CheckWritable();

    /// <summary>
    /// Ships the set: images and, for several platforms, the index that ties them. Nothing is
    /// named (tagged) before every blob it needs is in place. Returns what happened to each blob
    /// (uploaded, already there, mounted, reused, written), for the publish report.
    /// </summary>
    Task<ShipReport> ShipAsync(ImageSet images, CancellationToken cancellationToken);
}

/// <summary>Picks the sink the way the SDK decides where an image goes.</summary>
public static class ImageSinks
{
    /// <summary>
    /// An archive when an archive path is given, else the registry when an output registry
    /// is given, else the local docker or podman.
    /// </summary>
    public static IImageSink For(
        string? archiveOutputPath, string? outputRegistry, LocalRuntimeKind? localRuntime, string repository,
        Registry.RegistryClientOptions options, IBuildLog log) =>
        !string.IsNullOrWhiteSpace(archiveOutputPath) ? new ArchiveSink(ArchivePaths.Resolve(archiveOutputPath, repository))
        : !string.IsNullOrWhiteSpace(outputRegistry) ? new RegistrySink(outputRegistry.Trim(), options, log)
        : new LocalDaemonSink(localRuntime, options.Environment, log);

    internal static IReadOnlyList<string> Distinct(IReadOnlyList<string> tags) => [.. tags.Distinct(StringComparer.Ordinal)];

    internal static IReadOnlyList<string> Names(string repository, IReadOnlyList<string> tags) =>
        [.. Distinct(tags).Select(tag => repository + ":" + tag)];
}
