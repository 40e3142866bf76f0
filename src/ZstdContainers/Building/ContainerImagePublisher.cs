using System.Diagnostics;
using ZstdContainers.Caching;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Building;

/// <summary>
/// The whole single-platform publish, as explicit steps: resolve the base image; build the app
/// layer and prepare the base layers at the same time; compose config and manifest into a
/// <see cref="BuiltImage"/>; hand it to the sink the caller chose (registry, archive or local daemon).
/// </summary>
public sealed class ContainerImagePublisher(RegistryClientOptions registryOptions, IBuildLog log)
{
    private static readonly string ToolVersion =
        typeof(ContainerImagePublisher).Assembly.GetName().Version?.ToString(3) ?? "0.0.0";

    public async Task<ImagePublishResult> PublishAsync(ImageRequest request, IImageSink sink, CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        var settings = new ZstdSettings(request.Compression.Level) { Chunked = request.Compression.Chunked };
        var policy = LayerEntryPolicy.FromEnvironment(request.SourceDateEpoch);
        sink.CheckWritable();
        var appLayerWriter = new DirectoryLayerWriter(request.PublishDirectory, request.WorkingDirectory, policy, log: log);
        appLayerWriter.EnsureSourceExists();

        using var baseRegistry = new RegistryClient(request.BaseImage.Registry, RegistryAccesses.ForBaseImage(request.BaseImage.Registry, request.OutputRegistry), registryOptions);
        var baseImage = await BaseImageResolver.ResolveAsync(baseRegistry, request.BaseImage, request.RuntimeIdentifier, cancellationToken).ConfigureAwait(false);
        log.Detail($"Base image {request.BaseImage} for {baseImage.Platform}: {baseImage.ManifestDigest}, {baseImage.Manifest.Layers.Count} layers");

        using var cache = new LayerCache(request.Compression.CacheDirectory ?? LayerCache.DefaultDirectory(registryOptions.Environment), log);
        var workDirectory = Directory.CreateTempSubdirectory("zstdcontainers-").FullName;
        try
        {
            var preparer = new BaseLayerPreparer(baseRegistry, cache, settings, request.Compression.RecompressBaseLayers, log);
            var baseLayersTask = preparer.PrepareAsync(baseImage, cancellationToken);
            var appLayerTask = BuildAppLayerAsync(appLayerWriter, settings, workDirectory, cancellationToken);
            await Task.WhenAll(baseLayersTask, appLayerTask).ConfigureAwait(false);
            var baseLayers = await baseLayersTask.ConfigureAwait(false);
            var (appBlob, appElapsed) = await appLayerTask.ConfigureAwait(false);

            PublishLog.Layers(log, baseLayers, appBlob, appElapsed);

            var created = string.IsNullOrWhiteSpace(request.SourceDateEpoch) ? DateTimeOffset.UtcNow : policy.Timestamp;
            var config = ContainerConfigComposer.Compose(
                baseImage.Config, request, baseImage.ManifestDigest, [appBlob.DiffId], created,
                $"ZstdContainers {ToolVersion}: app layer from the publish folder, {settings.FormatName} level {settings.Level}", log);
            if (request.SkipPublishing)
            {
                // A per-RID image of a multi-RID archive or docker load: the index task ships it
                // later in this build, after the work folder is gone.
                appBlob = await cache.StoreBlobAsync(appBlob, cancellationToken).ConfigureAwait(false);
            }
            var appLayer = new ImageLayer(appBlob.Descriptor, appBlob.DiffId, new FileBlobSource(appBlob.FilePath));
            var annotations = ImageAnnotations.Resolve(request.ManifestAnnotations, created, baseImage.ManifestDigest);
            var image = ImageAssembler.Assemble(config, [.. baseLayers.Select(l => l.Layer), appLayer], baseImage.Platform, annotations);

            var shipped = ShipReport.Empty;
            if (!request.SkipPublishing)
            {
                var images = new ImageSet
                {
                    Images = [image],
                    Repository = request.Repository,
                    Tags = request.Tags,
                    Timestamp = policy.Timestamp,
                };
                shipped = await sink.ShipAsync(images, cancellationToken).ConfigureAwait(false);
            }
            var verb = request.SkipPublishing ? "Built" : sink.Verb;
            PublishLog.Summary(log, verb, sink.Describe(request.Repository, request.Tags), image, baseLayers, appBlob, total.Elapsed);
            return new ImagePublishResult(
                image,
                sink.ImageNames(request.Repository, request.Tags),
                baseImage.ManifestDigest,
                (sink as ArchiveSink)?.Path,
                shipped);
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
