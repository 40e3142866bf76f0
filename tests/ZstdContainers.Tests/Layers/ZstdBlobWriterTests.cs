using System.Security.Cryptography;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdSharp;
using ZstdSharp.Unsafe;

namespace ZstdContainers.Tests.Layers;

public sealed class ZstdBlobWriterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zc-zstd-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static Task<LayerBlob> Write(byte[] tar, string path, ZstdSettings settings) =>
        ZstdBlobWriter.WriteAsync((s, ct) => s.WriteAsync(tar, ct).AsTask(), path, settings, CancellationToken.None);

    [Fact]
    public async Task Digest_size_and_diff_id_match_an_independent_recomputation()
    {
        var tar = LayerTestData.Text(3_000_000, seed: 1);
        var path = Path.Combine(_root, "blob");

        var blob = await Write(tar, path, new ZstdSettings());

        var file = await File.ReadAllBytesAsync(path);
        Assert.Equal(path, blob.FilePath);
        Assert.Equal(MediaTypes.OciLayerZstd, blob.Descriptor.MediaType);
        Assert.Equal(file.Length, blob.Size);
        Assert.Equal(Digest.Of(file), blob.Digest);
        Assert.Equal(Digest.Of(tar), blob.DiffId);
        Assert.Equal(tar.Length, blob.TarSize);
        Assert.Equal(tar, LayerTestData.Unzstd(file));
        Assert.True(file.Length < tar.Length / 2, $"{file.Length} bytes of zstd for {tar.Length} bytes of text");
    }

    [Fact]
    public async Task An_empty_tar_stream_gives_a_valid_empty_frame()
    {
        var path = Path.Combine(_root, "empty");

        var blob = await Write([], path, new ZstdSettings());

        Assert.Equal(Digest.Of([]), blob.DiffId);
        Assert.Equal(0, blob.TarSize);
        Assert.Empty(LayerTestData.Unzstd(await File.ReadAllBytesAsync(path)));
    }

    [Fact]
    public async Task A_directory_layer_has_the_diff_id_of_the_tar_the_layer_writer_produces()
    {
        var folder = LayerTestData.MakeFolder(Path.Combine(_root, "publish"));
        var layer = new DirectoryLayerWriter(folder, "/app/", new LayerEntryPolicy());
        using var tar = new MemoryStream();
        layer.WriteTar(tar, CancellationToken.None);
        var path = Path.Combine(_root, "app.blob");

        var blob = await ZstdBlobWriter.WriteDirectoryAsync(layer, path, new ZstdSettings(), CancellationToken.None);

        Assert.Equal(Digest.Of(tar.ToArray()), blob.DiffId);
        Assert.Equal(tar.ToArray(), LayerTestData.Unzstd(await File.ReadAllBytesAsync(path)));
    }

    [Fact]
    public async Task The_same_input_gives_the_same_bytes_every_time()
    {
        var tar = LayerTestData.Text(5_000_000, seed: 2);

        var a = await Write(tar, Path.Combine(_root, "a"), new ZstdSettings(level: 5));
        var b = await Write(tar, Path.Combine(_root, "b"), new ZstdSettings(level: 5));

        Assert.Equal(a.Digest, b.Digest);
    }

    // The key reproducibility claim of ZstdSettings: multi-threaded zstd gives the same bytes for
    // any worker count of one or more. The input spans several encoder jobs (8 MiB each at level 3)
    // so job boundaries and their overlap are exercised.
    [Theory]
    [InlineData(3)]
    [InlineData(9)]
    public async Task The_worker_count_does_not_change_the_bytes(int level)
    {
        var tar = LayerTestData.Text(40_000_000, seed: 3);

        var digests = new List<Digest>();
        foreach (var workers in new[] { 1, 2, 4, 7 })
        {
            var blob = await Write(tar, Path.Combine(_root, $"w{workers}"), new ZstdSettings(level, workers));
            digests.Add(blob.Digest);
            File.Delete(blob.FilePath);
        }

        Assert.Single(digests.Distinct());
    }

    // Why ZstdSettings never uses 0 workers: single-threaded zstd frames differ from multi-threaded ones.
    [Fact]
    public void Single_threaded_mode_gives_different_bytes_than_one_worker()
    {
        var tar = LayerTestData.Text(20_000_000, seed: 4);

        Assert.NotEqual(Sha256Zstd(tar, workers: 0), Sha256Zstd(tar, workers: 1));
    }

    private static string Sha256Zstd(byte[] data, int workers)
    {
        using var output = new MemoryStream();
        using (var encoder = new CompressionStream(output, 3, 1 << 20, leaveOpen: true))
        {
            encoder.SetParameter(ZSTD_cParameter.ZSTD_c_nbWorkers, workers);
            encoder.Write(data);
        }
        return Convert.ToHexString(SHA256.HashData(output.ToArray()));
    }

    [Fact]
    public async Task Writing_in_small_pieces_gives_the_same_blob_as_one_large_write()
    {
        var tar = LayerTestData.Text(12_000_000, seed: 5);
        var whole = await Write(tar, Path.Combine(_root, "whole"), new ZstdSettings());

        var pieces = await ZstdBlobWriter.WriteAsync(
            async (s, ct) =>
            {
                for (var offset = 0; offset < tar.Length; offset += 7_919)
                {
                    await s.WriteAsync(tar.AsMemory(offset, Math.Min(7_919, tar.Length - offset)), ct);
                }
            },
            Path.Combine(_root, "pieces"),
            new ZstdSettings(),
            CancellationToken.None);

        Assert.Equal(whole.Digest, pieces.Digest);
    }

    // Full 128 KiB blocks keep containerd's zstd decoder fast (ZstdBlobWriter.BlockSplitterLevel,
    // and from level 16 ZstdBlobWriter.SplitAfterSequences). The input switches between random
    // bytes and text every 16 KiB, which zstd's default splitters cut at; the second half of the
    // test shows that they do, so the first can fail.
    [Theory]
    [InlineData(3)]
    [InlineData(9)]
    [InlineData(19)]
    public async Task Blocks_hold_128_KiB_of_input_each_where_zstd_would_split_them(int level)
    {
        var tar = AlternatingRandomAndText(2 << 20);

        var blob = await Write(tar, Path.Combine(_root, "blob"), new ZstdSettings(level, workers: 2));
        var withZstdDefaults = DefaultSplittingBlob(tar, level);

        Assert.Equal(tar.Length / (128 << 10), CountBlocks(await File.ReadAllBytesAsync(blob.FilePath)));
        Assert.True(CountBlocks(withZstdDefaults) > tar.Length / (128 << 10), "the default splitter left these blocks whole");
        Assert.Equal(tar, LayerTestData.Unzstd(await File.ReadAllBytesAsync(blob.FilePath)));
    }

    private static byte[] AlternatingRandomAndText(int length)
    {
        var data = LayerTestData.Text(length, seed: 6);
        var random = new Random(7);
        for (var offset = 0; offset < length; offset += 32 << 10)
        {
            random.NextBytes(data.AsSpan(offset, 16 << 10));
        }
        return data;
    }

    private static byte[] DefaultSplittingBlob(byte[] data, int level)
    {
        using var output = new MemoryStream();
        using (var encoder = new CompressionStream(output, level, 1 << 20, leaveOpen: true))
        {
            encoder.SetParameter(ZSTD_cParameter.ZSTD_c_nbWorkers, 2);
            if (level <= 9)
            {
                encoder.SetParameter(ZSTD_cParameter.ZSTD_c_jobSize, 4 << 20);
            }
            encoder.Write(data);
        }
        return output.ToArray();
    }

    // Blocks of a zstd file (RFC 8878 3.1.1): frame header, then 3-byte block headers, each
    // followed by its content (one byte for an RLE block), the last one flagged.
    private static int CountBlocks(byte[] zstd)
    {
        var pos = 0;
        var blocks = 0;
        while (pos < zstd.Length)
        {
            Assert.Equal(0xFD2FB528u, BitConverter.ToUInt32(zstd, pos));
            var descriptor = zstd[pos + 4];
            var singleSegment = (descriptor >> 5) & 1;
            pos += 5 + (singleSegment == 1 ? 0 : 1) + new[] { 0, 1, 2, 4 }[descriptor & 3]
                + new[] { singleSegment, 2, 4, 8 }[descriptor >> 6];
            bool last;
            do
            {
                var header = zstd[pos] | (zstd[pos + 1] << 8) | (zstd[pos + 2] << 16);
                last = (header & 1) == 1;
                var type = (header >> 1) & 3;
                pos += 3 + (type == 1 ? 1 : header >> 3);
                blocks++;
            }
            while (!last);
            pos += ((descriptor >> 2) & 1) * 4;
        }
        return blocks;
    }
}
