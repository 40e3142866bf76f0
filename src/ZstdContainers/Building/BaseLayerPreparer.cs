using System.Diagnostics;
using ZstdContainers.Caching;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Reporting;

namespace ZstdContainers.Building;

/// <summary>What happened to one base layer, for the per-layer log line and the summary.</summary>
public sealed record BaseLayerOutcome(ImageLayer Layer, long SourceSize, string SourceMediaType, string Action, TimeSpan Elapsed)
{
    /// <summary>For the publish report: transcoded, from the layer cache, or kept as the base had it.</summary>
    public LayerPreparation Preparation { get; init; } = LayerPreparation.Reused;
}

/// <summary>
/// Prepares every base layer the new image carries: zstd blobs are reused byte for byte;
/// gzip and uncompressed blobs are transcoded to zstd through the on-disk cache (or kept as they
/// are when base layers are not to be recompressed). Transcoding keeps the tar bytes, so the
/// base config's diff_ids stay valid — the transcoder checks that.
/// </summary>
/// <param name="registryCache">zstd layers the target registry already holds (the images the
/// user names as a layer cache, and the tags being pushed), looked in after the local cache and before recompressing.</param>
public sealed class BaseLayerPreparer(
    RegistryClient registry, LayerCache cache, ZstdSettings settings, bool recompress, IBuildLog log, Task<RegistryLayerCandidates>? registryCache = null)
{
    /// <param name="layerReady">Called with each layer as soon as it is ready (e.g. to start its upload), in no set order.</param>
    public async Task<IReadOnlyList<BaseLayerOutcome>> PrepareAsync(ResolvedBaseImage baseImage, CancellationToken cancellationToken, Action<ImageLayer>? layerReady = null)
    {
        var tasks = baseImage.Manifest.Layers
            .Select(async (descriptor, i) =>
            {
                var outcome = await PrepareOneAsync(baseImage, descriptor, baseImage.DiffIds[i], cancellationToken).ConfigureAwait(false);
                layerReady?.Invoke(outcome.Layer);
                return outcome;
            })
            .ToList();
        return await Task.WhenAll(tasks).ConfigureAwait(false);
    }

    private async Task<BaseLayerOutcome> PrepareOneAsync(ResolvedBaseImage baseImage, Descriptor descriptor, Digest diffId, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var digest = descriptor.Digest;
        var source = new RegistryBlobSource(registry, baseImage.Reference.Repository, digest, descriptor.Size);
        var compression = MediaTypes.LayerCompressionOf(descriptor.MediaType);
        log.Detail($"Base layer {descriptor.Digest} ({descriptor.MediaType}, {descriptor.Size} bytes): {compression}, recompress={recompress}");

        BaseLayerOutcome Kept(string mediaType, string action) => new(
            new ImageLayer(descriptor with { MediaType = mediaType, Annotations = null }, diffId, source, baseImage.Reference),
            descriptor.Size, descriptor.MediaType, action, clock.Elapsed);

        switch (compression)
        {
            case LayerCompression.Zstd:
                return Kept(MediaTypes.OciLayerZstd, "zstd already, reused");
            case LayerCompression.Gzip when !recompress:
                return Kept(MediaTypes.OciLayerGzip, $"gzip, kept ({UserSetting.RecompressBaseLayers}=false)");
            case LayerCompression.None when !recompress:
                return Kept(MediaTypes.OciLayerTar, $"uncompressed, kept ({UserSetting.RecompressBaseLayers}=false)");
            case LayerCompression.Gzip or LayerCompression.None:
                // Local cache first (no request; its bytes are checked when read), then the registry, then recompress.
                var local = await cache.TryGetTranscodedAsync(digest, diffId, settings.Level, settings.FormatName, cancellationToken).ConfigureAwait(false);
                if (local is null && await FromRegistryCacheAsync(diffId, cancellationToken).ConfigureAwait(false) is { } reused)
                {
                    return new BaseLayerOutcome(reused.Layer, descriptor.Size, descriptor.MediaType, $"zstd from the registry ({reused.FoundIn}), not recompressed", clock.Elapsed)
                    {
                        Preparation = LayerPreparation.FromRegistryCache,
                    };
                }
                var cached = local ?? await cache.GetOrAddTranscodedAsync(
                    digest,
                    diffId,
                    settings.Level,
                    settings.FormatName,
                    async (blobPath, ct) =>
                    {
                        using var turn = await EncoderGate.EnterAsync(ct).ConfigureAwait(false);
                        // Timed from here: waiting for the encoder is not work. At high levels a
                        // large layer takes minutes, and a silent build looks hung.
                        var meter = new ProgressMeter($"base layer {digest.Value[..19]}: recompressing to {settings.FormatName}", descriptor.Size, log);
                        var input = new ProgressReadStream(await source.OpenAsync(ct).ConfigureAwait(false), meter);
                        await using (input.ConfigureAwait(false))
                        {
                            return await BaseLayerTranscoder.TranscodeAsync(input, compression, digest, diffId, blobPath, settings, ct).ConfigureAwait(false);
                        }
                    },
                    cancellationToken).ConfigureAwait(false);
                // A cache entry is keyed by the source digest alone; the config that lists this
                // layer must agree with what the cache found inside it.
                if (cached.Blob.DiffId != diffId)
                {
                    throw new ZstdContainersException(
                        ErrorCodes.BaseLayerDiffIdMismatch,
                        $"Base layer {digest} of {baseImage.Reference} holds a tar whose diff_id is {cached.Blob.DiffId}, but the base image's config lists {diffId} for it: the base image's config does not describe its layers. Re-push the base image, or set {UserSetting.RecompressBaseLayers}=false to ship its layers as they are.");
                }
                // Stamped here, not when written: blobs cached by an older version get the same manifest entry.
                var layer = new ImageLayer(LayerCompressionAnnotations.Stamp(cached.Blob.Descriptor, settings), diffId, cached.Source);
                return new BaseLayerOutcome(layer, descriptor.Size, descriptor.MediaType, cached.FromCache ? $"{settings.FormatName} from cache" : $"transcoded to {settings.FormatName}", clock.Elapsed)
                {
                    Preparation = cached.FromCache ? LayerPreparation.FromCache : LayerPreparation.Transcoded,
                };
            default:
                throw new ZstdContainersException(
                    ErrorCodes.UnsupportedBaseLayer,
                    $"Base layer {descriptor.Digest} of {baseImage.Reference} has media type '{descriptor.MediaType}', which is not a tar, tar+gzip or tar+zstd layer. Use a base image whose layers are standard OCI or Docker layers.");
        }
    }

    // A layer of an image already in the target registry with this diff_id, written with these
    // settings (format and level, per its annotations), confirmed by HEAD.
    private async Task<(ImageLayer Layer, string FoundIn)?> FromRegistryCacheAsync(Digest diffId, CancellationToken ct)
    {
        if (registryCache is null)
        {
            return null;
        }
        var candidates = await registryCache.ConfigureAwait(false);
        return await candidates.FindAsync(diffId, settings, ct).ConfigureAwait(false) is { } candidate
            ? (candidates.LayerFor(candidate, diffId), candidate.FoundIn)
            : null;
    }
}
