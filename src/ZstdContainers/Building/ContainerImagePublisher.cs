using System.Diagnostics;
using System.Globalization;
using ZstdContainers.Caching;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Building;

/// <summary>
/// The whole single-platform publish, as explicit steps: resolve the base image; build the app
/// layer and plan the base layers at the same time; compose config and manifest; ship to the
/// destination (registry, archive or local daemon) with the manifest last.
/// </summary>
public sealed class ContainerImagePublisher(RegistryClientOptions registryOptions, IBuildLog log)
{
    private static readonly string ToolVersion =
        typeof(ContainerImagePublisher).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public async Task<ImagePublishResult> PublishAsync(ImageRequest request, CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var settings = new ZstdSettings(request.Compression.Level);
        var policy = LayerEntryPolicy.FromEnvironment(request.SourceDateEpoch);
        var destination = ImageDestination.For(request);
        destination.CheckWritable();
        var appLayerWriter = new DirectoryLayerWriter(request.PublishDirectory, request.WorkingDirectory, policy, log: log);
        appLayerWriter.EnsureSourceExists();

        using var baseRegistry = new RegistryClient(request.BaseImage.Registry, RegistryAccess.Pull, registryOptions);
        var baseImage = await BaseImageResolver.ResolveAsync(baseRegistry, request.BaseImage, request.RuntimeIdentifier, cancellationToken).ConfigureAwait(false);
        log.Detail($"Base image {request.BaseImage} for {baseImage.Platform}: {baseImage.ManifestDigest}, {baseImage.Manifest.Layers.Count} layers");

        using var cache = new LayerCache(request.Compression.CacheDirectory ?? LayerCache.DefaultDirectory(registryOptions.Environment), log);
        var workDirectory = Directory.CreateTempSubdirectory("zstdcontainers-").FullName;
        try
        {
            var planner = new BaseLayerPlanner(baseRegistry, cache, settings, request.Compression.RecompressBaseLayers, log);
            var baseLayersTask = planner.PlanAsync(baseImage, cancellationToken);
            var appLayerTask = BuildAppLayerAsync(appLayerWriter, settings, workDirectory, cancellationToken);
            await Task.WhenAll(baseLayersTask, appLayerTask).ConfigureAwait(false);
            var baseLayers = await baseLayersTask.ConfigureAwait(false);
            var (appBlob, appElapsed) = await appLayerTask.ConfigureAwait(false);

            LogLayers(baseLayers, appBlob, appElapsed);

            var created = string.IsNullOrWhiteSpace(request.SourceDateEpoch) ? DateTimeOffset.UtcNow : policy.Timestamp;
            var config = ContainerConfigComposer.Compose(
                baseImage.Config, request, baseImage.ManifestDigest, [appBlob.DiffId], created,
                $"ZstdContainers {ToolVersion}: app layer from the publish folder, zstd level {settings.Level}", log);
            if (request.SkipPublishing)
            {
                // A per-RID image of a multi-RID archive or docker load: the index task ships it
                // later in this build, after the work folder is gone.
                appBlob = await cache.StoreBlobAsync(appBlob, cancellationToken).ConfigureAwait(false);
            }
            var appLayer = new ImageLayer(appBlob.Descriptor, appBlob.DiffId, new FileBlobSource(appBlob.FilePath));
            var image = ImageAssembler.Assemble(config, [.. baseLayers.Select(l => l.Layer), appLayer], baseImage.Platform);

            if (!request.SkipPublishing)
            {
                var content = new ArchiveContent
                {
                    Images = [image],
                    Repository = request.Repository,
                    Tags = request.Tags,
                    Timestamp = policy.Timestamp,
                };
                await destination.ShipAsync(content, registryOptions, log, cancellationToken).ConfigureAwait(false);
            }
            LogSummary(request, destination, image, baseLayers, appBlob, total.Elapsed);
            return new ImagePublishResult(
                image,
                destination.ImageNames(request.Repository, request.Tags),
                baseImage.ManifestDigest,
                (destination as ArchiveImageDestination)?.Path);
        }
        finally
        {
            TryDelete(workDirectory);
        }
    }

    private static async Task<(LayerBlob Blob, TimeSpan Elapsed)> BuildAppLayerAsync(
        DirectoryLayerWriter writer, ZstdSettings settings, string workDirectory, CancellationToken cancellationToken)
    {
        using var turn = await EncoderGate.EnterAsync(cancellationToken).ConfigureAwait(false);
        var clock = Stopwatch.StartNew();
        var blob = await ZstdBlobWriter.WriteDirectoryAsync(writer, Path.Combine(workDirectory, "app-layer.tar.zst"), settings, cancellationToken).ConfigureAwait(false);
        return (blob, clock.Elapsed);
    }

    private void LogLayers(IReadOnlyList<BaseLayerOutcome> baseLayers, LayerBlob app, TimeSpan appElapsed)
    {
        foreach (var outcome in baseLayers)
        {
            var d = outcome.Layer.Descriptor;
            log.Info($"  base layer {Short(d.Digest)}: {Size(outcome.SourceSize)} {ShortType(outcome.SourceMediaType)} -> {Size(d.Size)} {ShortType(d.MediaType)} ({Ratio(d.Size, outcome.SourceSize)}), {outcome.Action}, {Seconds(outcome.Elapsed)}");
        }
        log.Info($"  app layer {Short(app.Descriptor.Digest)}: {Size(app.TarSize)} tar -> {Size(app.Size)} zstd ({Ratio(app.Size, app.TarSize)}), {Seconds(appElapsed)}");
    }

    private void LogSummary(ImageRequest request, ImageDestination destination, BuiltImage image, IReadOnlyList<BaseLayerOutcome> baseLayers, LayerBlob app, TimeSpan elapsed)
    {
        var baseBefore = baseLayers.Sum(l => l.SourceSize);
        var baseAfter = baseLayers.Sum(l => l.Layer.Descriptor.Size);
        var saved = baseBefore - baseAfter;
        var verb = request.SkipPublishing ? "Built" : destination.Verb;
        log.Summary(
            $"{verb} {destination.Describe(request.Repository, request.Tags)} ({image.ManifestDigest}): {image.Layers.Count} layers, {Size(baseAfter + app.Size)} "
            + $"(base layers {Size(baseBefore)} as pulled -> {Size(baseAfter)}, {(saved >= 0 ? "saved" : "grew by")} {Size(Math.Abs(saved))}) in {Seconds(elapsed)}.");
    }

    private static string Short(Digest digest) => digest.Value[..19];

    private static string ShortType(string mediaType) => MediaTypes.LayerCompressionOf(mediaType) switch
    {
        LayerCompression.Zstd => "zstd",
        LayerCompression.Gzip => "gzip",
        LayerCompression.None => "tar",
        _ => mediaType,
    };

    internal static string Size(long bytes) => bytes switch
    {
        >= 1_000_000 => (bytes / 1_000_000.0).ToString("0.0", CultureInfo.InvariantCulture) + " MB",
        >= 1_000 => (bytes / 1_000.0).ToString("0.0", CultureInfo.InvariantCulture) + " kB",
        _ => bytes.ToString(CultureInfo.InvariantCulture) + " B",
    };

    private static string Ratio(long after, long before) =>
        before == 0 ? "-" : (100.0 * after / before).ToString("0", CultureInfo.InvariantCulture) + "%";

    private static string Seconds(TimeSpan t) => t.TotalSeconds.ToString("0.00", CultureInfo.InvariantCulture) + " s";

    private static void TryDelete(string directory)
    {
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A temp folder left behind is harmless; failing the publish over it is not.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
