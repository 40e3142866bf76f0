using ZstdContainers.Oci;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>
/// Turns a stream of tar bytes into a zstd:chunked layer blob on disk in one pass (the format
/// containers/storage defines for partial pulls: podman and CRI-O fetch only the files they do
/// not hold yet). Same media type as plain zstd and the same diff_id: any zstd reader decompresses
/// it to the same tar. Only the table of contents and the compressed tar-split are held in memory.
/// </summary>
public static class ZstdChunkedBlobWriter
{
    /// <summary>True for a layer descriptor we (or containers/storage) wrote as zstd:chunked.</summary>
    public static bool IsChunked(Descriptor layer) =>
        layer.Annotations?.ContainsKey(ZstdChunkedTrailer.ManifestChecksum) == true;

    /// <param name="writeTar">Writes the complete, uncompressed tar to the stream it is given.</param>
    /// <param name="blobPath">Where the blob goes; the caller owns the file.</param>
    public static async Task<LayerBlob> WriteAsync(
        Func<Stream, CancellationToken, Task> writeTar,
        string blobPath,
        ZstdSettings settings,
        CancellationToken cancellationToken)
    {
        var file = ZstdBlobWriter.CreateBlobFile(blobPath);
        await using (file.ConfigureAwait(false))
        {
            using var compressed = new HashingWriteStream(file, leaveOpen: true);
            using var frames = new FrameBatcher(compressed, settings, cancellationToken);
            var metadataLevel = ZstdChunkedTrailer.MetadataLevel(settings.Level);
            using var tarSplit = new TarSplitRecorder(metadataLevel);
            using var layout = new ChunkedTarStream(frames, tarSplit);
            using var tar = new HashingWriteStream(layout, leaveOpen: true, forwardFlush: false);

            await writeTar(tar, cancellationToken).ConfigureAwait(false);
            layout.Finish();
            frames.Complete();
            var annotations = ZstdChunkedTrailer.Write(frames, layout.Entries, tarSplit, metadataLevel);
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);

            var descriptor = new Descriptor
            {
                MediaType = MediaTypes.OciLayerZstd,
                Digest = compressed.Digest,
                Size = compressed.BytesWritten,
                Annotations = annotations,
            };
            return new LayerBlob(blobPath, descriptor, tar.Digest, tar.BytesWritten);
        }
    }
}
