using System.Diagnostics;
using ZstdContainers.Caching;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>
/// One app layer as built: the part of the publish folder it holds, the layer the image lists (a
/// local blob, or a blob the target registry already holds), its tar size, and the time it took.
/// </summary>
/// <param name="ReusedFrom">The image the registry blob was found in; null when the blob was written here.</param>
/// <param name="DiffIdFromRecord">The tar's diff_id came from the project's app layer record: its files were not read.</param>
public sealed record AppLayerBuild(AppLayerPart Part, ImageLayer Layer, long TarSize, TimeSpan Elapsed, string? ReusedFrom = null, bool DiffIdFromRecord = false)
{
    public static AppLayerBuild Built(AppLayerPart part, LayerBlob blob, TimeSpan elapsed) =>
        new(part, new ImageLayer(blob.Descriptor, blob.DiffId, new FileBlobSource(blob.FilePath)), blob.TarSize, elapsed);

    /// <summary>The local blob, when there is one (null for a layer reused from the registry).</summary>
    public LayerBlob? LocalBlob => Layer.Source is FileBlobSource file ? new LayerBlob(file.Path, Layer.Descriptor, Layer.DiffId, TarSize) : null;
}

/// <summary>
/// Writes the app layers of a publish folder, bottom to top, one zstd blob each. Each layer waits
/// for its own turn at the <see cref="EncoderGate"/>, so base-layer transcodes can run between
/// them instead of waiting for the whole app side. When the target registry already holds a zstd
/// blob of a part's exact tar (same diff_id) written with the same format and level, that blob is
/// used and nothing is compressed.
/// </summary>
internal static class AppLayerBuilder
{
    /// <summary>Loads the project's app layer record and takes every part's fingerprint from the one walk in <paramref name="snapshot"/>.</summary>
    public static RecordedFingerprints Fingerprint(
        string recordFile, PublishFolderSnapshot snapshot, IReadOnlyList<AppLayerPart> parts, string containerDirectory, LayerEntryPolicy policy, IBuildLog log, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        var records = AppLayerRecords.Load(recordFile, log);
        var hashes = records.FileHashesFor(snapshot.Directory);
        var fingerprints = AppLayerFingerprint.ComputeAll(snapshot, parts, containerDirectory, policy, hashes, ct);
        records.KeepFileHashes(snapshot.Directory, hashes);
        log.Detail($"App layer fingerprints of {parts.Count} part(s) in {clock.Elapsed.TotalMilliseconds:F0} ms ({hashes.FilesRead} small file(s) read, the others' hashes recorded under their size, last-write time and mode).");
        return new RecordedFingerprints(records, fingerprints);
    }

    /// <param name="fingerprints">The project's record and each part's key (<see cref="Fingerprint"/>); null: no record kept.</param>
    /// <param name="registryCache">zstd layers the target registry holds; null when there is none to
    /// look in, or when a layer found there could not be shipped (handed off to a later step).</param>
    /// <param name="layerReady">Called with each layer as soon as it is built or found (e.g. to start its upload).</param>
    public static async Task<List<AppLayerBuild>> BuildAsync(
        ImageRequest request,
        IReadOnlyList<AppLayerPart> parts,
        LayerEntryPolicy policy,
        ZstdSettings settings,
        string workDirectory,
        IBuildLog log,
        CancellationToken cancellationToken,
        Task<RegistryLayerCandidates>? registryCache = null,
        Action<ImageLayer>? layerReady = null,
        RecordedFingerprints? fingerprints = null)
    {
        var candidates = registryCache is null ? null : await registryCache.ConfigureAwait(false);
        // Only worth keeping when there is a registry to find unchanged parts in (this push makes
        // the candidates of the next one).
        var recorded = candidates is not null ? fingerprints : null;
        var records = recorded?.Records;
        var built = new List<AppLayerBuild>(parts.Count);
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            // Taken from the walk, before any file was read: a file written after it shows in the next key.
            var fingerprint = recorded?.Fingerprints[i];
            if (candidates is { Count: > 0 } && await FromRegistryAsync(request, part, policy, settings, candidates, records, fingerprint, log, cancellationToken).ConfigureAwait(false) is { } reused)
            {
                built.Add(reused);
                layerReady?.Invoke(reused.Layer);
                continue;
            }
            var writer = new DirectoryLayerWriter(request.PublishDirectory, request.WorkingDirectory, policy, part.Selection, log);
            using var turn = await EncoderGate.EnterAsync(cancellationToken).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            var blobPath = Path.Combine(workDirectory, $"app-layer-{i}.tar.zst");
            var blob = await ZstdBlobWriter.WriteDirectoryAsync(writer, blobPath, settings, cancellationToken).ConfigureAwait(false);
            if (fingerprint is { Settled: true })
            {
                records!.Add(fingerprint.Key, blob.DiffId, blob.TarSize);
            }
            built.Add(AppLayerBuild.Built(part, blob with { Descriptor = LayerCompressionAnnotations.Stamp(blob.Descriptor, settings) }, clock.Elapsed));
            layerReady?.Invoke(built[^1].Layer);
        }
        records?.Save(log);
        return built;
    }

    // Looks the part's diff_id up: from the project's record when its files are as they were when
    // it was written, else by hashing the tar without compressing it (cheap next to zstd). Either
    // way only a lookup key: a part not found is compressed, which computes its own diff_id.
    private static async Task<AppLayerBuild?> FromRegistryAsync(
        ImageRequest request, AppLayerPart part, LayerEntryPolicy policy, ZstdSettings settings, RegistryLayerCandidates candidates,
        AppLayerRecords? records, AppLayerFingerprint? fingerprint, IBuildLog log, CancellationToken ct)
    {
        var clock = Stopwatch.StartNew();
        Digest diffId;
        long tarSize;
        var recorded = fingerprint is null ? null : records!.Find(fingerprint.Key);
        var fromRecord = recorded is not null;
        if (recorded is { } entry)
        {
            (diffId, tarSize) = entry;
            log.Detail($"App layer '{part.Name}': files unchanged since the record in '{request.Compression.AppLayerRecordFile}', diff_id {diffId} taken from it (tar not re-read).");
        }
        else
        {
            // No log: the compressing pass, if any, reports the entries it warns about.
            var writer = new DirectoryLayerWriter(request.PublishDirectory, request.WorkingDirectory, policy, part.Selection);
            using var hashing = new HashingWriteStream(Stream.Null);
            writer.WriteTar(hashing, ct);
            diffId = hashing.Digest;
            tarSize = hashing.BytesWritten;
            if (fingerprint is { Settled: true })
            {
                records!.Add(fingerprint.Key, diffId, tarSize);
            }
        }
        return await candidates.FindAsync(diffId, settings, ct).ConfigureAwait(false) is { } candidate
            ? new AppLayerBuild(part, candidates.LayerFor(candidate, diffId), tarSize, clock.Elapsed, candidate.FoundIn, fromRecord)
            : null;
    }
}

/// <summary>The project's app layer record and the key of each part (null where an entry could not be read).</summary>
internal sealed record RecordedFingerprints(AppLayerRecords Records, IReadOnlyList<AppLayerFingerprint?> Fingerprints);
