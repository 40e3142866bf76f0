using ZstdContainers.Destinations;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Building;

/// <summary>
/// Where the SDK would have put the image, decided the way the SDK decides it: an archive when
/// ContainerArchiveOutputPath is set, else the registry when ContainerRegistry is set, else the
/// local docker or podman.
/// </summary>
public abstract class ImageDestination
{
    public static ImageDestination For(string? archiveOutputPath, string? outputRegistry, string? localRegistry, string repository) =>
        !string.IsNullOrWhiteSpace(archiveOutputPath) ? new ArchiveImageDestination(ArchivePaths.Resolve(archiveOutputPath, repository))
        : !string.IsNullOrWhiteSpace(outputRegistry) ? new RegistryImageDestination(outputRegistry.Trim())
        : new LocalDaemonImageDestination(localRegistry);

    public static ImageDestination For(ImageRequest request) =>
        For(request.ArchiveOutputPath, request.OutputRegistry, request.LocalRegistry, request.Repository);

    /// <summary>"Pushed", "Wrote", "Loaded": the first word of the summary line.</summary>
    public abstract string Verb { get; }

    /// <summary>Where the image went, for the summary line.</summary>
    public abstract string Describe(string repository, IReadOnlyList<string> tags);

    /// <summary>The names the image is known by afterwards (GeneratedContainerNames).</summary>
    public virtual IReadOnlyList<string> ImageNames(string repository, IReadOnlyList<string> tags) =>
        [.. Distinct(tags).Select(tag => repository + ":" + tag)];

    /// <summary>Fails before any network work when the destination cannot take the image.</summary>
    public virtual void CheckWritable()
    {
    }

    /// <summary>
    /// Ships the content: images and, for several platforms, the index that ties them. In a
    /// registry the images must already be there when the index arrives, so they go first.
    /// </summary>
    public abstract Task ShipAsync(ArchiveContent content, RegistryClientOptions options, IBuildLog log, CancellationToken cancellationToken);

    protected static IReadOnlyList<string> Distinct(IReadOnlyList<string> tags) => [.. tags.Distinct(StringComparer.Ordinal)];
}

public sealed class RegistryImageDestination(string registry) : ImageDestination
{
    public string Registry { get; } = registry;

    public override string Verb => "Pushed";

    public override string Describe(string repository, IReadOnlyList<string> tags) =>
        $"{Registry}/{repository}:{string.Join(",", Distinct(tags))}";

    public override IReadOnlyList<string> ImageNames(string repository, IReadOnlyList<string> tags) =>
        [.. base.ImageNames(repository, tags).Select(name => Registry + "/" + name)];

    public override async Task ShipAsync(ArchiveContent content, RegistryClientOptions options, IBuildLog log, CancellationToken cancellationToken)
    {
        using var client = new RegistryClient(Registry, RegistryAccess.Push, options);
        var destination = new RegistryDestination(client, content.Repository, log);
        var tally = default(UploadTally);
        foreach (var image in content.Images)
        {
            tally += await destination.PushBlobsAsync(image, cancellationToken).ConfigureAwait(false);
        }
        log.Info($"  uploaded {tally.UploadedBlobs} of {tally.TotalBlobs} blobs ({ContainerImagePublisher.Size(tally.UploadedBytes)}) to {Registry}/{content.Repository}; {tally.TotalBlobs - tally.UploadedBlobs} were there already");
        if (content.Index is { } index)
        {
            await destination.PushManifestAsync(index.Content, index.MediaType, content.DistinctTags(), cancellationToken).ConfigureAwait(false);
        }
        else
        {
            var image = content.Images.Single();
            await destination.PushManifestAsync(image.Manifest, image.ManifestMediaType, content.DistinctTags(), cancellationToken).ConfigureAwait(false);
        }
    }
}

public sealed class ArchiveImageDestination(string path) : ImageDestination
{
    public string Path { get; } = path;

    public override string Verb => "Wrote";

    public override string Describe(string repository, IReadOnlyList<string> tags) =>
        $"{repository}:{string.Join(",", Distinct(tags))} to {Path}";

    public override void CheckWritable() => ArchivePaths.EnsureWritable(Path);

    public override async Task ShipAsync(ArchiveContent content, RegistryClientOptions options, IBuildLog log, CancellationToken cancellationToken)
    {
        // Write next to the target and rename at the end: a failed publish never leaves a torn archive.
        var temp = Path + ".partial-" + Environment.ProcessId;
        try
        {
            var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
            await using (output.ConfigureAwait(false))
            {
                await OciArchiveWriter.WriteAsync(output, content, cancellationToken).ConfigureAwait(false);
            }
            File.Move(temp, Path, overwrite: true);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}

public sealed class LocalDaemonImageDestination(string? localRegistry) : ImageDestination
{
    public override string Verb => "Loaded";

    public override string Describe(string repository, IReadOnlyList<string> tags) =>
        $"{repository}:{string.Join(",", Distinct(tags))} into the local {(string.IsNullOrWhiteSpace(localRegistry) ? "container runtime" : localRegistry)}";

    public override async Task ShipAsync(ArchiveContent content, RegistryClientOptions options, IBuildLog log, CancellationToken cancellationToken)
    {
        var loaded = await new LocalDaemonLoader(runner: null, log, options.Environment)
            .LoadAsync(content, localRegistry, cancellationToken).ConfigureAwait(false);
        log.Detail($"Loaded into {loaded.Runtime.DisplayName}: {string.Join(", ", loaded.ImageNames)}");
    }
}
