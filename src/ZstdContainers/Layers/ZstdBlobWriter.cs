using ZstdContainers.Layers.ZstdChunked;
using ZstdContainers.Oci;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace ZstdContainers.Layers;

/// <summary>
/// Turns a stream of tar bytes into a zstd layer blob on disk in one pass: the tar is hashed
/// (diff_id) on its way into the encoder and the compressed bytes are hashed (digest) on their
/// way to the file. The encoder's worker threads compress while the producer keeps writing, so
/// reading files, tar framing and compression overlap; nothing is held whole in memory.
/// </summary>
public static class ZstdBlobWriter
{
    private const int FileWriteBufferSize = 1 << 20;
    private const int EncoderBufferSize = 1 << 20;

    /// <summary>
    /// zstd 1.5.7's ZSTD_c_blockSplitterLevel (ZstdSharp names it by number). By default the encoder
    /// ends a block early wherever the data's statistics change, so a base layer here came out in
    /// 32 KiB blocks instead of 128 KiB ones: 1.4% fewer bytes, but the Go decoder in containerd
    /// (klauspost/compress, which pays a fixed cost per block) then needs ~20% more CPU, and a pull
    /// spends more time unpacking than the saved bytes take on a fast link (eng/bench/results/pull-timeline.md).
    /// </summary>
    internal const ZSTD_cParameter BlockSplitterLevel = ZSTD_cParameter.ZSTD_c_experimentalParam20;

    /// <summary>Level 1 of <see cref="BlockSplitterLevel"/>: full 128 KiB blocks (0 would be zstd's own choice).</summary>
    internal const int NoBlockSplitting = 1;

    /// <summary>
    /// ZSTD_c_splitAfterSequences: the second splitter, on by default from level 16 (the optimal
    /// parsers), cuts blocks after match finding. Off for the same reason: at level 19, with both
    /// splitters off, the aspnet stand-in's OS layer is 1275 blocks instead of 8595 and decodes in
    /// 0.40 s of CPU instead of 0.49 s, for 1.7% more bytes.
    /// </summary>
    internal const ZSTD_cParameter SplitAfterSequences = ZSTD_cParameter.ZSTD_c_experimentalParam13;

    /// <summary>ZSTD_ps_disable of zstd's ZSTD_ParamSwitch_e (0 auto, 1 enable, 2 disable).</summary>
    internal const int ParamSwitchDisable = 2;

    /// <param name="writeTar">Writes the complete, uncompressed tar to the stream it is given.</param>
    /// <param name="blobPath">Where the compressed blob goes; the caller owns the file.</param>
    /// <param name="settings">Level and threads; with <see cref="ZstdSettings.Chunked"/> the blob is zstd:chunked.</param>
    public static async Task<LayerBlob> WriteAsync(
        Func<Stream, CancellationToken, Task> writeTar,
        string blobPath,
        ZstdSettings settings,
        CancellationToken cancellationToken)
    {
        if (settings.Chunked)
        {
            return await ZstdChunkedBlobWriter.WriteAsync(writeTar, blobPath, settings, cancellationToken).ConfigureAwait(false);
        }
        var file = CreateBlobFile(blobPath);
        await using (file.ConfigureAwait(false))
        {
            var compressed = new HashingWriteStream(file, leaveOpen: true);
            var encoder = new CompressionStream(compressed, settings.Level, EncoderBufferSize, leaveOpen: true);
            // A flush would end the current zstd job early and change the bytes, so the tar side
            // never passes one on: the output depends on the input only.
            var tar = new HashingWriteStream(encoder, leaveOpen: true, forwardFlush: false);
            try
            {
                encoder.SetParameter(ZSTD_cParameter.ZSTD_c_nbWorkers, settings.Workers);
                if (settings.JobSize is { } jobSize)
                {
                    encoder.SetParameter(ZSTD_cParameter.ZSTD_c_jobSize, jobSize);
                }
                encoder.SetParameter(BlockSplitterLevel, NoBlockSplitting);
                encoder.SetParameter(SplitAfterSequences, ParamSwitchDisable);
                await writeTar(tar, cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // Free the native context and its worker threads now, not at finalization.
                encoder.Dispose();
                throw;
            }

            // Disposing the encoder writes the final frame; only then is the digest complete.
            await encoder.DisposeAsync().ConfigureAwait(false);
            await file.FlushAsync(cancellationToken).ConfigureAwait(false);

            var descriptor = new Descriptor
            {
                MediaType = MediaTypes.OciLayerZstd,
                Digest = compressed.Digest,
                Size = compressed.BytesWritten,
            };
            var blob = new LayerBlob(blobPath, descriptor, tar.Digest, tar.BytesWritten);
            await tar.DisposeAsync().ConfigureAwait(false);
            await compressed.DisposeAsync().ConfigureAwait(false);
            return blob;
        }
    }

    internal static FileStream CreateBlobFile(string blobPath) => new(blobPath, new FileStreamOptions
    {
        Mode = FileMode.Create,
        Access = FileAccess.Write,
        Share = FileShare.None,
        BufferSize = FileWriteBufferSize,
    });

    /// <summary>Writes a folder as a zstd layer (the app layer).</summary>
    public static Task<LayerBlob> WriteDirectoryAsync(
        DirectoryLayerWriter layer,
        string blobPath,
        ZstdSettings settings,
        CancellationToken cancellationToken) =>
        WriteAsync(
            // TarWriter and FileStream reads are synchronous; run them off the caller's thread.
            (tar, ct) => Task.Run(() => layer.WriteTar(tar, ct), ct),
            blobPath,
            settings,
            cancellationToken);
}
