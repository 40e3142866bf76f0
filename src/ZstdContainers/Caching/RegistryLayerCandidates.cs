using System.Text.Json;
using System.Text.Json.Nodes;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Caching;

/// <summary>A zstd layer blob the target registry already holds, and the repository it is in.</summary>
public sealed record LayerCandidate(Descriptor Descriptor, string Repository, string FoundIn);

/// <summary>
/// The registry as a layer cache: zstd layers of images already in the target registry (the tags
/// being pushed, then the images the user names as a layer cache), indexed by the diff_id their image's config lists.
/// A base layer (or an app layer) whose diff_id is found, and whose descriptor says it was written
/// with the format and level this publish uses (<see cref="LayerCompressionAnnotations"/>), need not
/// be downloaded, recompressed or uploaded: the registry confirms the blob (HEAD) and the new image
/// points at it. A layer without those annotations (an older version, another tool) is not taken.
/// </summary>
/// <remarks>
/// What is trusted: an image's config is the source of truth. Its bytes are checked against the
/// digest the manifest names, its diff_ids must pair one to one with the manifest's layers, and only
/// layers whose media type is the zstd type we would write are taken. A blob is then used only if the
/// registry has it under its digest. The blob's bytes are not read, so the pairing of a diff_id with
/// a blob is as trustworthy as whoever can push to those repositories, who could replace the image
/// itself anyway; the images named as a layer cache must be in repositories the user trusts as much as their own.
/// Works on any Distribution registry (manifests, blobs, HEAD; no referrers API).
/// </remarks>
public sealed class RegistryLayerCandidates
{
    private const long MaxConfigBytes = 4 << 20;

    private readonly RegistryClient? _registry;
    private readonly Dictionary<Digest, List<LayerCandidate>> _byDiffId;
    private readonly IBuildLog _log;

    private RegistryLayerCandidates(RegistryClient? registry, Dictionary<Digest, List<LayerCandidate>> byDiffId, IBuildLog log)
    {
        _registry = registry;
        _byDiffId = byDiffId;
        _log = log;
    }

    /// <summary>No registry to look in (an archive or a local daemon).</summary>
    public static RegistryLayerCandidates None { get; } = new(null, [], NullBuildLog.Instance);

    public int Count => _byDiffId.Count;

    /// <summary>The layer of the new image for a candidate <see cref="FindAsync"/> returned (so the registry
    /// has just confirmed the blob): it stays where it is, already in the target repository or mounted
    /// from the repository it was found in.</summary>
    public ImageLayer LayerFor(LayerCandidate candidate, Digest diffId)
    {
        var registry = _registry ?? throw new InvalidOperationException("No registry.");
        // Annotations sorted again: the manifest we write must not depend on how another writer ordered them.
        var descriptor = candidate.Descriptor with { Platform = null, Urls = null, Annotations = LayerCompressionAnnotations.Sorted(candidate.Descriptor.Annotations) };
        return new ImageLayer(
            descriptor,
            diffId,
            new RegistryBlobSource(registry, candidate.Repository, descriptor.Digest, descriptor.Size),
            new ImageReference(registry.Registry, candidate.Repository),
            SeenInSource: true);
    }

    /// <summary>
    /// Reads the images at <paramref name="sources"/> (repository and tag or digest, all on
    /// <paramref name="registry"/>), for <paramref name="platform"/>, and remembers each layer of
    /// media type <paramref name="layerMediaType"/> by its diff_id. An image that is missing, cannot be
    /// read or does not add up is skipped (detail log): the cache only saves work.
    /// </summary>
    public static async Task<RegistryLayerCandidates> LoadAsync(
        RegistryClient registry,
        IReadOnlyList<(string Repository, string Reference)> sources,
        Platform platform,
        string layerMediaType,
        IBuildLog log,
        CancellationToken ct)
    {
        var found = new Dictionary<Digest, List<LayerCandidate>>();
        foreach (var (repository, reference) in sources.Distinct())
        {
            var name = $"{registry.Registry}/{repository}:{reference}";
            try
            {
                foreach (var (manifest, config) in await ReadImagesAsync(registry, repository, reference, platform, ct).ConfigureAwait(false))
                {
                    var diffIds = ImageDocument.DiffIds(config, name);
                    if (diffIds.Count != manifest.Layers.Count)
                    {
                        log.Detail($"Registry layer cache: {name} skipped, its config's diff_ids do not pair with its manifest's layers.");
                        continue;
                    }
                    for (var i = 0; i < diffIds.Count; i++)
                    {
                        if (manifest.Layers[i].MediaType == layerMediaType)
                        {
                            if (!found.TryGetValue(diffIds[i], out var list))
                            {
                                found[diffIds[i]] = list = [];
                            }
                            list.Add(new LayerCandidate(manifest.Layers[i], repository, name));
                        }
                    }
                }
            }
            catch (Exception e) when (e is ZstdContainersException or JsonException or FormatException or InvalidOperationException)
            {
                log.Detail($"Registry layer cache: {name} not used ({e.Message}).");
            }
        }
        log.Detail($"Registry layer cache: {found.Count} zstd layers known by diff_id from {sources.Count} image reference(s).");
        return new RegistryLayerCandidates(registry, found, log);
    }

    /// <summary>
    /// The zstd blob whose tar is <paramref name="diffId"/>, written with <paramref name="settings"/>
    /// (format and level, as its descriptor's annotations say), when an image lists it and the
    /// registry confirms it has the blob; else null. The first such candidate in source order is taken.
    /// </summary>
    public async Task<LayerCandidate?> FindAsync(Digest diffId, ZstdSettings settings, CancellationToken ct)
    {
        if (_registry is null || !_byDiffId.TryGetValue(diffId, out var listed))
        {
            return null;
        }
        var candidate = listed.FirstOrDefault(c => LayerCompressionAnnotations.WrittenWith(c.Descriptor, settings));
        if (candidate is null)
        {
            _log.Detail($"Registry layer cache: {listed[0].FoundIn} has {diffId}, but not written as {settings.FormatName} level {settings.Level}; compressed again.");
            return null;
        }
        try
        {
            if (await _registry.BlobExistsAsync(candidate.Repository, candidate.Descriptor.Digest, ct).ConfigureAwait(false))
            {
                return candidate;
            }
            _log.Detail($"Registry layer cache: {candidate.FoundIn} lists {candidate.Descriptor.Digest} for {diffId}, but the registry does not have it.");
        }
        catch (ZstdContainersException e)
        {
            _log.Detail($"Registry layer cache: could not confirm {candidate.Descriptor.Digest} ({e.Message}).");
        }
        return null;
    }

    // The image manifests (one, or the ones of an index for this platform) with their configs.
    private static async Task<List<(ImageManifest Manifest, JsonObject Config)>> ReadImagesAsync(
        RegistryClient registry, string repository, string reference, Platform platform, CancellationToken ct)
    {
        var top = await registry.GetManifestAsync(repository, reference, ct).ConfigureAwait(false);
        var manifests = new List<ManifestResponse>();
        if (MediaTypes.IsIndex(top.MediaType))
        {
            var index = OciJson.Deserialize<ImageIndex>(top.Content);
            foreach (var entry in index.Manifests.Where(m => m.Platform is { } p && platform.IsSatisfiedBy(p) && MediaTypes.IsImageManifest(m.MediaType)))
            {
                manifests.Add(await registry.GetManifestAsync(repository, entry.Digest.Value, ct).ConfigureAwait(false));
            }
        }
        else if (MediaTypes.IsImageManifest(top.MediaType))
        {
            manifests.Add(top);
        }

        var images = new List<(ImageManifest, JsonObject)>();
        foreach (var response in manifests)
        {
            var manifest = OciJson.Deserialize<ImageManifest>(response.Content);
            // GetBlobAsync checks the config's bytes against the digest the manifest names.
            var configBytes = await registry.GetBlobAsync(repository, manifest.Config.Digest, MaxConfigBytes, ct).ConfigureAwait(false);
            var name = $"{registry.Registry}/{repository}@{response.Digest}";
            var config = ImageDocument.ParseObject(configBytes, name, "config");
            var declared = ImageDocument.ConfigPlatform(config, name);
            if (declared.Os == platform.Os && declared.Architecture == platform.Architecture)
            {
                images.Add((manifest, config));
            }
        }
        return images;
    }
}
