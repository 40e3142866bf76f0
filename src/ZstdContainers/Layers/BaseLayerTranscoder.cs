using System.Buffers;
using System.IO.Compression;
using System.Threading.Channels;
using ZstdContainers.Oci;

namespace ZstdContainers.Layers;

/// <summary>
/// Recompresses a base image layer (gzip or plain tar) as a zstd blob in one streaming pass.
/// The tar bytes pass through unchanged, so the layer's diff_id stays what the base image's
/// config says; both that and the source blob's digest are checked before the blob is trusted.
/// </summary>
/// <remarks>
/// gunzip is single-threaded, so it runs on its own task and hands 1 MiB chunks to the encoder
/// through a short bounded queue: decompression, hashing and the encoder's worker threads all run
/// at once instead of taking turns.
/// </remarks>
public static class BaseLayerTranscoder
{
    private const int ChunkSize = 1 << 20;
    private const int SourceBufferSize = 1 << 20;
    // Chunks waiting between the decompressor and the encoder (a few MiB in flight at most).
    private const int QueueDepth = 4;

    /// <summary>
    /// Reads <paramref name="source"/> to its end and writes the zstd blob to <paramref name="blobPath"/>.
    /// </summary>
    /// <param name="source">The base layer blob as it comes from the registry; not disposed.</param>
    /// <param name="sourceCompression">From the layer's media type: <see cref="LayerCompression.Gzip"/> or <see cref="LayerCompression.None"/>.</param>
    /// <param name="sourceDigest">The layer's digest in the base manifest; the bytes read must match it.</param>
    /// <param name="expectedDiffId">The layer's diff_id in the base config; the tar must match it.</param>
    /// <param name="blobPath">Where the zstd blob goes. Deleted again if anything fails.</param>
    /// <exception cref="ZstdContainersException">
    /// <see cref="ErrorCodes.BaseLayerCorrupt"/> when the gzip data is undecodable or the source bytes
    /// do not match <paramref name="sourceDigest"/>; <see cref="ErrorCodes.BaseLayerDiffIdMismatch"/>
    /// when the tar does not match <paramref name="expectedDiffId"/>;
    /// <see cref="ErrorCodes.UnsupportedBaseLayer"/> for a compression other than gzip or none.
    /// I/O errors of the source stream itself (a dropped connection) are not wrapped, so the caller
    /// can retry the download.
    /// </exception>
    public static async Task<LayerBlob> TranscodeAsync(
        Stream source,
        LayerCompression sourceCompression,
        Digest sourceDigest,
        Digest expectedDiffId,
        string blobPath,
        ZstdSettings settings,
        CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(blobPath);
        ArgumentNullException.ThrowIfNull(settings);
        if (sourceCompression is not (LayerCompression.Gzip or LayerCompression.None))
        {
            throw new ZstdContainersException(
                ErrorCodes.UnsupportedBaseLayer,
                $"Base layer {sourceDigest} is {Describe(sourceCompression)}; only gzip and uncompressed tar layers can be recompressed as zstd. Set {UserSetting.RecompressBaseLayers}=false to ship the base image's layers as they are.");
        }

        // GZipStream reads its input in small pieces; a large buffer below the hash keeps the
        // source's reads (syscalls, network reads) few and large. Not disposed: it would close the source.
        var hashed = new HashingReadStream(new BufferedStream(source, SourceBufferSize), leaveOpen: true);
        try
        {
            LayerBlob blob;
            await using (hashed.ConfigureAwait(false))
            {
                var gunzip = sourceCompression == LayerCompression.Gzip
                    ? new GZipStream(hashed, CompressionMode.Decompress, leaveOpen: true)
                    : null;
                try
                {
                    var decoder = new TarSource(gunzip ?? (Stream)hashed, hashed, sourceDigest, sourceCompression);
                    blob = await ZstdBlobWriter.WriteAsync(
                        (tar, token) => PumpOverlappedAsync(decoder, tar, token),
                        blobPath,
                        settings,
                        ct).ConfigureAwait(false);
                }
                finally
                {
                    if (gunzip is not null)
                    {
                        await gunzip.DisposeAsync().ConfigureAwait(false);
                    }
                }

                // Whatever follows the last gzip member (padding) is part of the blob and its digest.
                await DrainAsync(hashed, ct).ConfigureAwait(false);
                if (hashed.Digest != sourceDigest)
                {
                    throw new ZstdContainersException(
                        ErrorCodes.BaseLayerCorrupt,
                        $"Base layer {sourceDigest} could not be recompressed: the {hashed.BytesRead} bytes read for it have the digest {hashed.Digest}, so the download is corrupt or incomplete. Nothing was kept. Run the build again; if it keeps failing, the registry holds a corrupt blob: re-push the base image, or set {UserSetting.RecompressBaseLayers}=false.");
                }
            }

            if (blob.DiffId != expectedDiffId)
            {
                throw new ZstdContainersException(
                    ErrorCodes.BaseLayerDiffIdMismatch,
                    $"Base layer {sourceDigest} decompresses to a tar whose diff_id is {blob.DiffId}, but the base image's config lists {expectedDiffId} for it: the base image blob is corrupt or its config does not describe its layers. Re-push the base image (docker pull and push it again, or rebuild it), or set {UserSetting.RecompressBaseLayers}=false to ship its layers as they are.");
            }
            return blob;
        }
        catch
        {
            TryDelete(blobPath);
            throw;
        }
    }

    /// <summary>Reads decompressed tar bytes and turns decoder failures into a coded error.</summary>
    private sealed class TarSource(Stream tar, HashingReadStream raw, Digest sourceDigest, LayerCompression compression)
    {
        /// <summary>Fills <paramref name="buffer"/> as far as the data goes; 0 at the end.</summary>
        public async ValueTask<int> ReadChunkAsync(Memory<byte> buffer, CancellationToken ct)
        {
            try
            {
                return await tar.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidDataException or EndOfStreamException)
            {
                throw new ZstdContainersException(
                    ErrorCodes.BaseLayerCorrupt,
                    $"Base layer {sourceDigest} could not be recompressed: its {Describe(compression)} data is corrupt or truncated after {raw.BytesRead} bytes ({e.Message}). The download broke, or the base image blob in the registry is corrupt. Run the build again; if it keeps failing, re-push the base image, or set {UserSetting.RecompressBaseLayers}=false to ship its layers as they are.",
                    e);
            }
        }
    }

    // Decompression on one task, encoding on another, chunks handed over through a bounded queue.
    private static async Task PumpOverlappedAsync(TarSource source, Stream tar, CancellationToken ct)
    {
        var queue = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(QueueDepth)
        {
            SingleReader = true,
            SingleWriter = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var producer = Task.Run(() => ProduceAsync(source, queue.Writer, stop.Token), stop.Token);

        try
        {
            await foreach (var chunk in queue.Reader.ReadAllAsync(stop.Token).ConfigureAwait(false))
            {
                try
                {
                    await tar.WriteAsync(chunk.Buffer.AsMemory(0, chunk.Count), stop.Token).ConfigureAwait(false);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(chunk.Buffer);
                }
            }
        }
        catch
        {
            // The encoder side failed: stop the producer, give its buffers back, report our error.
            await stop.CancelAsync().ConfigureAwait(false);
            try
            {
                await producer.ConfigureAwait(false);
            }
            catch
            {
                // Its failure is a consequence of ours, or less interesting than ours.
            }
            while (queue.Reader.TryRead(out var left))
            {
                ArrayPool<byte>.Shared.Return(left.Buffer);
            }
            throw;
        }

        // The queue is complete: either the end of the tar or a producer failure, which surfaces here.
        await producer.ConfigureAwait(false);
    }

    private static async Task ProduceAsync(TarSource source, ChannelWriter<Chunk> queue, CancellationToken ct)
    {
        try
        {
            while (true)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                var handedOver = false;
                try
                {
                    var count = await source.ReadChunkAsync(buffer.AsMemory(0, ChunkSize), ct).ConfigureAwait(false);
                    if (count == 0)
                    {
                        return;
                    }
                    await queue.WriteAsync(new Chunk(buffer, count), ct).ConfigureAwait(false);
                    handedOver = true;
                }
                finally
                {
                    if (!handedOver)
                    {
                        ArrayPool<byte>.Shared.Return(buffer);
                    }
                }
            }
        }
        finally
        {
            queue.TryComplete();
        }
    }

    private static async Task DrainAsync(Stream stream, CancellationToken ct)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(64 * 1024);
        try
        {
            while (await stream.ReadAsync(buffer, ct).ConfigureAwait(false) > 0)
            {
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the original failure is what the user needs to see.
        }
    }

    private static string Describe(LayerCompression compression) => compression switch
    {
        LayerCompression.Gzip => "gzip",
        LayerCompression.None => "tar",
        LayerCompression.Zstd => "already zstd",
        _ => "of an unknown compression",
    };

    private readonly record struct Chunk(byte[] Buffer, int Count);
}
