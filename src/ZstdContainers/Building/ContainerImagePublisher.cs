using System.Diagnostics;
using ZstdContainers.Caching;
using ZstdContainers.Destinations;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Reporting;

namespace ZstdContainers.Building;

/// <summary>
/// The whole single-platform publish, as explicit steps: split the publish folder into app layers;
/// resolve the base image; build the app layers and prepare the base layers at the same time;
/// compose config and manifest into a <see cref="BuiltImage"/>; hand it to the sink the caller
/// chose (registry, archive or local daemon).
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
        new DirectoryLayerWriter(request.PublishDirectory, request.WorkingDirectory, policy).EnsureSourceExists();
        // A bad custom layer fails in a second, before any network work.
        LayerPartitioner.CheckCustomLayers(request.LayerSplit.CustomLayers);
        // The project's record is only worth keeping when a registry can hold the unchanged parts
        // (this push makes the candidates of the next one); a handed-off image finds its layers on disk.
        var recordFile = sink is RegistrySink && !request.SkipPublishing ? request.Compression.AppLayerRecordFile : null;
        // One walk of the publish folder gives the split and the app layer fingerprints; it runs on
        // the thread pool while the base image is resolved (the first request pays the HTTP stack's start-up).
        var appFolder = Task.Run(() => ReadAppFolder(request, policy, recordFile, cancellationToken), cancellationToken);

        using var baseRegistry = new RegistryClient(request.BaseImage.Registry, RegistryAccesses.ForBaseImage(request.BaseImage.Registry, request.OutputRegistry), registryOptions);
        var baseImageTask = BaseImageResolver.ResolveAsync(baseRegistry, request.BaseImage, request.RuntimeIdentifier, cancellationToken);
        // The folder first: a folder that cannot be split fails with its own error, whatever the registry says.
        var (appParts, fingerprints) = await appFolder.ConfigureAwait(false);
        var baseImage = await baseImageTask.ConfigureAwait(false);
        log.Detail($"Base image {request.BaseImage} for {baseImage.Platform}: {baseImage.ManifestDigest}, {baseImage.Manifest.Layers.Count} layers");

        using var cache = new LayerCache(request.Compression.CacheDirectory ?? LayerCache.DefaultDirectory(registryOptions.Environment), log);
        var workDirectory = Directory.CreateTempSubdirectory("zstdcontainers-").FullName;
        try
        {
            var baseSettings = new ZstdSettings(request.Compression.EffectiveBaseLevel) { Chunked = request.Compression.Chunked };
            // A sink that takes layers early starts each upload as soon as its layer is ready; the
            // config and the manifest still go up last, in ShipAsync. Disposed on the way out: after
            // a failure, uploads still running are stopped and nothing is tagged.
            var earlySink = request.SkipPublishing ? null : sink as IEarlyBlobSink;
            await using var uploads = earlySink?.BeginUploads(request.Repository, cancellationToken);
            Action<ImageLayer>? layerReady = uploads is null ? null : layer => _ = uploads.Ship(layer);
            // The first failed upload stops the build: minutes of transcoding for an image that
            // will not be pushed help nobody, and the user should see that failure now.
            using var building = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, uploads?.Stopped ?? CancellationToken.None);
            // The sink's own client: the cache lookup and the push share its connection and token.
            var targetRegistry = (sink as RegistrySink)?.Client;
            var registryCache = targetRegistry is null
                ? null
                : RegistryLayerCandidates.LoadAsync(targetRegistry, RegistryCacheSources(request, targetRegistry.Registry), baseImage.Platform, MediaTypes.OciLayerZstd, log, building.Token);
            var preparer = new BaseLayerPreparer(baseRegistry, cache, baseSettings, request.Compression.RecompressBaseLayers, log, registryCache);
            var baseLayersTask = preparer.PrepareAsync(baseImage, building.Token, layerReady);
            var appLayersTask = AppLayerBuilder.BuildAsync(
                // A handed-off image finds its layers on disk later, not in the target registry.
                request, appParts, policy, settings, workDirectory, log, building.Token, request.SkipPublishing ? null : registryCache, layerReady, fingerprints);
            try
            {
                await Task.WhenAll(baseLayersTask, appLayersTask).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // Stopped by a failed upload: report that failure, not the cancellations it caused.
                uploads?.ThrowIfFailed();
                throw;
            }
            var baseLayers = await baseLayersTask.ConfigureAwait(false);
            var appLayers = await appLayersTask.ConfigureAwait(false);

            PublishLog.Layers(log, baseLayers, appLayers);

            var created = string.IsNullOrWhiteSpace(request.SourceDateEpoch) ? DateTimeOffset.UtcNow : policy.Timestamp;
            var config = ContainerConfigComposer.Compose(
                baseImage.Config, request, baseImage.ManifestDigest, [.. appLayers.Select(l => l.Layer.DiffId)], created,
                [.. appLayers.Select(l => $"ZstdContainers {ToolVersion}: {l.Part.Description}, {settings.FormatName} level {settings.Level}")], log);
            if (request.SkipPublishing)
            {
                // A per-RID image of a multi-RID archive or docker load: the index task ships it
                // later in this build, after the work folder (and a temporary cache) is gone, and
                // finds every layer by digest.
                var handOff = HandOffFor(request.Compression, cache);
                for (var i = 0; i < appLayers.Count; i++)
                {
                    if (appLayers[i].LocalBlob is { } local)
                    {
                        appLayers[i] = AppLayerBuild.Built(appLayers[i].Part, await handOff.StoreAsync(local, cancellationToken).ConfigureAwait(false), appLayers[i].Elapsed);
                    }
                }
                if (cache.IsTemporary)
                {
                    foreach (var outcome in baseLayers)
                    {
                        if (outcome.Layer.Source is FileBlobSource file)
                        {
                            var blob = new LayerBlob(file.Path, outcome.Layer.Descriptor, outcome.Layer.DiffId, 0);
                            await handOff.StoreAsync(blob, cancellationToken).ConfigureAwait(false);
                        }
                    }
                }
            }
            var annotations = ImageAnnotations.Resolve(request.ManifestAnnotations, created, baseImage.ManifestDigest);
            var image = ImageAssembler.Assemble(
                config,
                [.. baseLayers.Select(l => l.Layer), .. appLayers.Select(l => l.Layer)],
                baseImage.Platform,
                annotations);

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
                shipped = uploads is not null
                    ? await earlySink!.ShipAsync(images, uploads, cancellationToken).ConfigureAwait(false)
                    : await sink.ShipAsync(images, cancellationToken).ConfigureAwait(false);
            }
            var verb = request.SkipPublishing ? "Built" : sink.Verb;
            PublishLog.Summary(log, verb, sink.Describe(request.Repository, request.Tags), image, baseLayers, appLayers, shipped, total.Elapsed);
            var names = sink.ImageNames(request.Repository, request.Tags);
            var report = PublishReportBuilder.Build(new PublishFacts
            {
                Image = image,
                Layers = [.. baseLayers.Select(BaseProvenance), .. appLayers.Select(AppProvenance)],
                Shipped = shipped,
                Verb = verb,
                Names = names,
                NamesAreRegistryReferences = sink is RegistrySink && !request.SkipPublishing,
                BaseImage = request.BaseImage,
                BaseManifestDigest = baseImage.ManifestDigest,
                Compression = settings.FormatName,
                Level = settings.Level,
                Tool = "ZstdContainers " + ToolVersion,
                Elapsed = total.Elapsed,
            });
            return new ImagePublishResult(image, names, baseImage.ManifestDigest, (sink as ArchiveSink)?.Path, shipped, report);
        }
        finally
        {
            TryDelete(workDirectory);
        }
    }

    // The split of the publish folder and, when a record is kept, every part's fingerprint, from one walk.
    private (IReadOnlyList<AppLayerPart> Parts, RecordedFingerprints? Fingerprints) ReadAppFolder(
        ImageRequest request, LayerEntryPolicy policy, string? recordFile, CancellationToken cancellationToken)
    {
        var snapshot = PublishFolderSnapshot.Take(request.PublishDirectory, cancellationToken);
        var parts = LayerPartitioner.Partition(snapshot, request.LayerSplit);
        var fingerprints = recordFile is null
            ? null
            : AppLayerBuilder.Fingerprint(recordFile, snapshot, parts, request.WorkingDirectory, policy, log, cancellationToken);
        return (parts, fingerprints);
    }

    /// <summary>
    /// Where the registry cache looks, in order: the tags being pushed (the previous image), then
    /// the images the user names as a layer cache. Only references on the target registry: a blob elsewhere would have
    /// to be downloaded and uploaded again, which saves nothing over recompressing.
    /// </summary>
    internal static List<(string Repository, string Reference)> RegistryCacheSources(ImageRequest request, string registry)
    {
        var sources = request.Tags.Select(tag => (request.Repository, tag)).ToList();
        foreach (var text in request.Compression.CacheFrom)
        {
            if (CacheFromReference.Parse(text, registry) is { } reference
                && string.Equals(reference.Registry, registry, StringComparison.OrdinalIgnoreCase))
            {
                sources.Add((reference.Repository, reference.Reference));
            }
        }
        return sources;
    }

    /// <summary>Where per-RID builds leave blobs for the index step (see <see cref="HandOffStore"/>).</summary>
    internal static HandOffStore HandOffFor(CompressionOptions options, LayerCache cache) =>
        new(options.HandOffDirectory ?? Path.Combine(cache.Directory, "handoff"));

    private static LayerProvenance BaseProvenance(BaseLayerOutcome outcome) =>
        new("base", outcome.Preparation, outcome.SourceSize, null, outcome.Elapsed);

    private static LayerProvenance AppProvenance(AppLayerBuild layer) =>
        new(layer.Part.Name, layer.ReusedFrom is null ? LayerPreparation.Built : LayerPreparation.FromRegistryCache, null, layer.TarSize, layer.Elapsed);

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
