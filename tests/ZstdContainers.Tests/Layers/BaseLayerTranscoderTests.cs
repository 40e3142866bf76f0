using System.IO.Compression;
using System.Text;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdSharp;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Layers;

public sealed class BaseLayerTranscoderTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zc-transcode-").FullName;
    private readonly byte[] _tar;

    public BaseLayerTranscoderTests()
    {
        _tar = LayerTestData.Tar(LayerTestData.MakeFolder(Path.Combine(_root, "publish")));
    }

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private string BlobPath => Path.Combine(_root, "out.blob");

    private Task<LayerBlob> Transcode(
        byte[] source,
        LayerCompression compression = LayerCompression.Gzip,
        Digest? sourceDigest = null,
        Digest? diffId = null,
        ZstdSettings? settings = null,
        CancellationToken ct = default) =>
        BaseLayerTranscoder.TranscodeAsync(
            new MemoryStream(source),
            compression,
            sourceDigest ?? Digest.Of(source),
            diffId ?? Digest.Of(_tar),
            BlobPath,
            settings ?? new ZstdSettings(),
            ct);

    [Fact]
    public async Task A_gzip_layer_becomes_zstd_with_the_same_tar_bytes()
    {
        var gzip = LayerTestData.Gzip(_tar);

        var blob = await Transcode(gzip);

        var file = await File.ReadAllBytesAsync(BlobPath);
        Assert.Equal(_tar, LayerTestData.Unzstd(file));
        Assert.Equal(Digest.Of(_tar), blob.DiffId);
        Assert.Equal(_tar.Length, blob.TarSize);
        Assert.Equal(Digest.Of(file), blob.Digest);
        Assert.Equal(file.Length, blob.Size);
        Assert.Equal(MediaTypes.OciLayerZstd, blob.Descriptor.MediaType);
        Assert.Equal(BlobPath, blob.FilePath);
    }

    [Fact]
    public async Task An_uncompressed_tar_layer_becomes_zstd()
    {
        var blob = await Transcode(_tar, LayerCompression.None);

        Assert.Equal(_tar, LayerTestData.Unzstd(await File.ReadAllBytesAsync(BlobPath)));
        Assert.Equal(Digest.Of(_tar), blob.DiffId);
    }

    [Fact]
    public async Task A_multi_member_gzip_layer_is_decompressed_whole()
    {
        // pigz --independent and some registries' tools write concatenated gzip members.
        var third = _tar.Length / 3;
        var gzip = LayerTestData.Gzip(_tar[..third])
            .Concat(LayerTestData.Gzip(_tar[third..(2 * third)]))
            .Concat(LayerTestData.Gzip(_tar[(2 * third)..]))
            .ToArray();

        var blob = await Transcode(gzip);

        Assert.Equal(_tar, LayerTestData.Unzstd(await File.ReadAllBytesAsync(BlobPath)));
        Assert.Equal(Digest.Of(_tar), blob.DiffId);
    }

    [Fact]
    public async Task Padding_after_the_gzip_data_counts_toward_the_source_digest()
    {
        var padded = LayerTestData.Gzip(_tar).Concat(new byte[1000]).ToArray();

        var blob = await Transcode(padded);

        Assert.Equal(Digest.Of(_tar), blob.DiffId);
    }

    [Fact]
    public async Task A_source_that_returns_small_reads_gives_the_same_blob()
    {
        var gzip = LayerTestData.Gzip(_tar);
        var expected = await Transcode(gzip);
        File.Delete(BlobPath);

        var blob = await BaseLayerTranscoder.TranscodeAsync(
            new TrickleStream(gzip, 1_000), LayerCompression.Gzip, Digest.Of(gzip), Digest.Of(_tar), BlobPath, new ZstdSettings(), CancellationToken.None);

        Assert.Equal(expected.Digest, blob.Digest);
    }

    [Fact]
    public async Task A_wrong_diff_id_is_a_coded_error_naming_the_layer_and_both_diff_ids()
    {
        var gzip = LayerTestData.Gzip(_tar);
        var claimed = Digest.Of(Encoding.UTF8.GetBytes("what the config says"));

        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Transcode(gzip, diffId: claimed));

        Assert.Equal(ErrorCodes.BaseLayerDiffIdMismatch, e.Code);
        Assert.Contains(Digest.Of(gzip).Value, e.Message);
        Assert.Contains(claimed.Value, e.Message);
        Assert.Contains(Digest.Of(_tar).Value, e.Message);
        Assert.Contains("ContainerRecompressBaseLayers=false", PropertyNames.Render(e.Message));
        Assert.False(File.Exists(BlobPath));
    }

    [Fact]
    public async Task Corrupt_gzip_data_is_a_coded_error_and_leaves_no_file()
    {
        var gzip = LayerTestData.Gzip(_tar);
        for (var i = gzip.Length / 2; i < gzip.Length / 2 + 64; i++)
        {
            gzip[i] ^= 0x5a;
        }

        // The digest matches the corrupt bytes (a corrupt blob in the registry), so only gunzip can tell.
        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Transcode(gzip));

        Assert.Equal(ErrorCodes.BaseLayerCorrupt, e.Code);
        Assert.Contains(Digest.Of(gzip).Value, e.Message);
        Assert.IsType<InvalidDataException>(e.InnerException);
        Assert.False(File.Exists(BlobPath));
    }

    [Fact]
    public async Task Data_that_is_not_gzip_at_all_is_a_coded_error()
    {
        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Transcode(_tar, LayerCompression.Gzip));

        Assert.Equal(ErrorCodes.BaseLayerCorrupt, e.Code);
        Assert.False(File.Exists(BlobPath));
    }

    [Fact]
    public async Task A_truncated_download_is_a_coded_error_and_leaves_no_file()
    {
        var gzip = LayerTestData.Gzip(_tar);
        var truncated = gzip[..(gzip.Length / 2)];

        // GZipStream ends quietly at a truncation; the source digest catches it.
        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Transcode(truncated, sourceDigest: Digest.Of(gzip)));

        Assert.Equal(ErrorCodes.BaseLayerCorrupt, e.Code);
        Assert.Contains(Digest.Of(gzip).Value, e.Message);
        Assert.Contains(Digest.Of(truncated).Value, e.Message);
        Assert.False(File.Exists(BlobPath));
    }

    [Fact]
    public async Task A_truncated_blob_whose_digest_matches_is_caught_by_the_diff_id()
    {
        var gzip = LayerTestData.Gzip(_tar);
        var truncated = gzip[..(gzip.Length / 2)];

        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Transcode(truncated));

        // .NET's GZipStream does not report a missing end of stream, so the tar's diff_id is what
        // tells; should it start throwing, the gzip error is just as good.
        Assert.Contains(e.Code, new[] { ErrorCodes.BaseLayerDiffIdMismatch, ErrorCodes.BaseLayerCorrupt });
        Assert.False(File.Exists(BlobPath));
    }

    [Fact]
    public async Task A_wrong_source_digest_is_a_coded_error_even_when_the_data_is_fine()
    {
        var gzip = LayerTestData.Gzip(_tar);
        var manifestSays = Digest.Of(Encoding.UTF8.GetBytes("another blob"));

        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Transcode(gzip, sourceDigest: manifestSays));

        Assert.Equal(ErrorCodes.BaseLayerCorrupt, e.Code);
        Assert.Contains(manifestSays.Value, e.Message);
        Assert.Contains(Digest.Of(gzip).Value, e.Message);
        Assert.False(File.Exists(BlobPath));
    }

    [Theory]
    [InlineData(LayerCompression.Zstd)]
    [InlineData(LayerCompression.Unknown)]
    public async Task Only_gzip_and_plain_tar_layers_are_transcoded(LayerCompression compression)
    {
        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Transcode(_tar, compression));

        Assert.Equal(ErrorCodes.UnsupportedBaseLayer, e.Code);
        Assert.False(File.Exists(BlobPath));
    }

    [Fact]
    public async Task Cancellation_stops_the_transcode_and_leaves_no_file()
    {
        var big = LayerTestData.Gzip(LayerTestData.Text(30_000_000, seed: 9));
        using var cts = new CancellationTokenSource();
        var source = new TrickleStream(big, 64 * 1024, afterBytes: 4_000_000, then: cts.Cancel);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => BaseLayerTranscoder.TranscodeAsync(
            source, LayerCompression.Gzip, Digest.Of(big), Digest.Of(_tar), BlobPath, new ZstdSettings(), cts.Token));

        Assert.False(File.Exists(BlobPath));
    }

    [Fact]
    public async Task The_source_stream_is_left_open()
    {
        var gzip = LayerTestData.Gzip(_tar);
        using var source = new MemoryStream(gzip);

        await BaseLayerTranscoder.TranscodeAsync(
            source, LayerCompression.Gzip, Digest.Of(gzip), Digest.Of(_tar), BlobPath, new ZstdSettings(), CancellationToken.None);

        Assert.True(source.CanRead);
        Assert.Equal(gzip.Length, source.Position);
    }

    [Fact]
    public async Task The_same_layer_gives_the_same_blob_every_time_whatever_the_worker_count()
    {
        var tar = LayerTestData.Text(20_000_000, seed: 6);
        var gzip = LayerTestData.Gzip(tar);

        async Task<Digest> Once(int workers)
        {
            var path = Path.Combine(_root, $"{workers}-{Guid.NewGuid():N}");
            var blob = await BaseLayerTranscoder.TranscodeAsync(
                new MemoryStream(gzip), LayerCompression.Gzip, Digest.Of(gzip), Digest.Of(tar), path, new ZstdSettings(3, workers), CancellationToken.None);
            File.Delete(path);
            return blob.Digest;
        }

        // The same tar compressed directly, without the gunzip pump in front, is the reference.
        var directPath = Path.Combine(_root, $"direct-{Guid.NewGuid():N}");
        var direct = await ZstdBlobWriter.WriteAsync((s, ct) => s.WriteAsync(tar, ct).AsTask(), directPath, new ZstdSettings(3, 2), CancellationToken.None);

        var digests = new[] { await Once(workers: 2), await Once(workers: 2), await Once(workers: 1), await Once(workers: 4) };

        Assert.All(digests, d => Assert.Equal(direct.Digest, d));
    }

    [Fact]
    public async Task Level_19_is_smaller_than_level_3_on_compressible_data()
    {
        var tar = LayerTestData.Text(4_000_000, seed: 7);
        var gzip = LayerTestData.Gzip(tar);

        var l3 = await BaseLayerTranscoder.TranscodeAsync(
            new MemoryStream(gzip), LayerCompression.Gzip, Digest.Of(gzip), Digest.Of(tar), Path.Combine(_root, "l3"), new ZstdSettings(3), CancellationToken.None);
        var l19 = await BaseLayerTranscoder.TranscodeAsync(
            new MemoryStream(gzip), LayerCompression.Gzip, Digest.Of(gzip), Digest.Of(tar), Path.Combine(_root, "l19"), new ZstdSettings(19), CancellationToken.None);

        Assert.True(l19.Size < l3.Size, $"level 19: {l19.Size} bytes, level 3: {l3.Size} bytes");
        Assert.Equal(l3.DiffId, l19.DiffId);
    }

    /// <summary>A read-only stream that hands out at most a few bytes per read, like a slow network.</summary>
    private sealed class TrickleStream(byte[] data, int maxRead, long afterBytes = long.MaxValue, Action? then = null) : Stream
    {
        private long _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var n = (int)Math.Min(Math.Min(buffer.Length, maxRead), data.Length - _position);
            data.AsSpan((int)_position, n).CopyTo(buffer);
            _position += n;
            if (_position >= afterBytes)
            {
                then?.Invoke();
            }
            return n;
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            cancellationToken.ThrowIfCancellationRequested();
            return Read(buffer.Span);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush() { }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>Layers and payloads for the layer and cache tests.</summary>
internal static class LayerTestData
{
    private static readonly string[] Words =
    [
        "container", "layer", "digest", "zstd", "gzip", "registry", "manifest", "index", "config", "blob",
        "System.Private.CoreLib", "Microsoft.AspNetCore", "netcoreapp", "runtime", "{", "}", ";", "0x1F", "\n",
    ];

    /// <summary>Text-like bytes that compress well but not trivially; the same for the same seed.</summary>
    public static byte[] Text(int length, int seed)
    {
        var random = new Random(seed);
        var output = new byte[length];
        var position = 0;
        while (position < length)
        {
            var word = random.Next(8) == 0
                ? random.Next().ToString("x", System.Globalization.CultureInfo.InvariantCulture)
                : Words[random.Next(Words.Length)];
            var bytes = Encoding.ASCII.GetBytes(word + " ");
            var n = Math.Min(bytes.Length, length - position);
            bytes.AsSpan(0, n).CopyTo(output.AsSpan(position));
            position += n;
        }
        return output;
    }

    /// <summary>A small publish folder: text, a larger compressible file, random bytes.</summary>
    public static string MakeFolder(string directory)
    {
        Directory.CreateDirectory(Path.Combine(directory, "wwwroot"));
        File.WriteAllText(Path.Combine(directory, "app.runtimeconfig.json"), "{\"runtimeOptions\":{}}");
        File.WriteAllBytes(Path.Combine(directory, "app.dll"), Text(2_500_000, seed: 42));
        var random = new byte[300_000];
        new Random(43).NextBytes(random);
        File.WriteAllBytes(Path.Combine(directory, "wwwroot", "favicon.bin"), random);
        return directory;
    }

    public static byte[] Tar(string directory)
    {
        using var tar = new MemoryStream();
        new DirectoryLayerWriter(directory, "/app/", new LayerEntryPolicy()).WriteTar(tar, CancellationToken.None);
        return tar.ToArray();
    }

    public static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            gzip.Write(data);
        }
        return output.ToArray();
    }

    public static byte[] Unzstd(byte[] blob)
    {
        using var decoder = new DecompressionStream(new MemoryStream(blob));
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }
}
