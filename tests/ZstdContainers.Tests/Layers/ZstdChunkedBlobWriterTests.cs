using System.Formats.Tar;
using System.Text;
using ZstdContainers.Layers;
using ZstdContainers.Layers.ZstdChunked;
using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Layers;

public sealed class ZstdChunkedBlobWriterTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zc-chunked-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private async Task<(LayerBlob Blob, byte[] Bytes, ZstdChunkedReader Reader)> Write(byte[] tar, ZstdSettings? settings = null, string name = "blob")
    {
        var path = Path.Combine(_root, name);
        var blob = await ZstdChunkedBlobWriter.WriteAsync((s, ct) => s.WriteAsync(tar, ct).AsTask(), path, settings ?? new ZstdSettings(), CancellationToken.None);
        var bytes = await File.ReadAllBytesAsync(path);
        return (blob, bytes, new ZstdChunkedReader(bytes, blob.Descriptor.Annotations!));
    }

    [Fact]
    public async Task A_plain_zstd_reader_gets_the_tar_back_and_the_descriptor_describes_the_blob()
    {
        var tar = LayerTestData.Tar(LayerTestData.MakeFolder(Path.Combine(_root, "publish")));

        var (blob, bytes, _) = await Write(tar);

        Assert.Equal(MediaTypes.OciLayerZstd, blob.Descriptor.MediaType);
        Assert.Equal(Digest.Of(bytes), blob.Digest);
        Assert.Equal(bytes.Length, blob.Size);
        Assert.Equal(Digest.Of(tar), blob.DiffId);
        Assert.Equal(tar.Length, blob.TarSize);
        Assert.Equal(tar, LayerTestData.Unzstd(bytes));
    }

    [Fact]
    public async Task Every_file_is_read_back_from_its_own_frames_and_matches_the_tar()
    {
        var tar = MixedTar(TarEntryFormat.Pax);

        var (_, _, reader) = await Write(tar);

        var expected = ReadTar(tar);
        var entries = reader.Entries;
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), entries.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, (type, linkName, content)) in expected)
        {
            var entry = entries[name];
            Assert.Equal(type, entry.GetProperty("type").GetString());
            if (type == "reg" && content.Length > 0)
            {
                Assert.Equal(content, reader.ReadFile(name));
            }
            if (linkName.Length > 0)
            {
                Assert.Equal(linkName, entry.GetProperty("linkName").GetString());
            }
        }
        // 9 MB of content in frames of at most 4 MiB: three chunks.
        Assert.Equal(2, reader.Toc.GetProperty("entries").EnumerateArray().Count(e => e.GetProperty("type").GetString() == "chunk"));
    }

    [Theory]
    [InlineData(TarEntryFormat.Pax)]
    [InlineData(TarEntryFormat.Gnu)]
    [InlineData(TarEntryFormat.Ustar)]
    public async Task The_tar_split_rebuilds_the_exact_tar_from_the_files(TarEntryFormat format)
    {
        var tar = MixedTar(format);

        var (_, _, reader) = await Write(tar);

        Assert.Equal(tar, reader.Reassemble());
    }

    [Fact]
    public async Task The_toc_carries_the_metadata_of_the_headers()
    {
        var tar = MixedTar(TarEntryFormat.Pax);

        var (_, _, reader) = await Write(tar);

        var file = reader.Entries["app/" + new string('n', 120) + ".dll"];
        Assert.Equal(0b111_101_101, file.GetProperty("mode").GetInt64());
        Assert.Equal(1654, file.GetProperty("uid").GetInt64());
        Assert.Equal(1655, file.GetProperty("gid").GetInt64());
        Assert.Equal("2024-05-06T07:08:09Z", file.GetProperty("modtime").GetString());
        Assert.Equal(Convert.ToBase64String("value"u8), file.GetProperty("xattrs").GetProperty("user.test").GetString());
        Assert.False(reader.Entries["app/empty.txt"].TryGetProperty("digest", out _));
        Assert.False(reader.Entries["app/empty.txt"].TryGetProperty("offset", out _));
    }

    [Fact]
    public async Task Annotations_serve_old_and_new_readers_and_the_footer_agrees_with_them()
    {
        var (_, bytes, reader) = await Write(MixedTar(TarEntryFormat.Pax));

        var a = reader.Annotations;
        Assert.Equal(a["io.github.containers.zstd-chunked.manifest-checksum"], a["io.containers.zstd-chunked.manifest-checksum"]);
        Assert.Equal(a["io.github.containers.zstd-chunked.manifest-position"], a["io.containers.zstd-chunked.manifest-position"]);
        Assert.DoesNotContain("containerd.io/snapshot/stargz/toc.digest", a.Keys); // newer readers refuse a layer with both TOC kinds
        var footer = reader.Footer();
        var toc = a["io.github.containers.zstd-chunked.manifest-position"].Split(':').Select(ulong.Parse).ToArray();
        var tarSplit = a["io.github.containers.zstd-chunked.tarsplit-position"].Split(':').Select(ulong.Parse).ToArray();
        Assert.Equal([toc[0], toc[1], toc[2], 1UL, tarSplit[0], tarSplit[1], tarSplit[2]], footer);
        Assert.Equal((ulong)bytes.Length - 72, tarSplit[0] + tarSplit[1]);
    }

    [Fact]
    public async Task The_same_tar_gives_the_same_blob_whatever_the_thread_count()
    {
        var tar = MixedTar(TarEntryFormat.Pax);

        var (one, _, _) = await Write(tar, new ZstdSettings(workers: 1), "one");
        var (four, _, _) = await Write(tar, new ZstdSettings(workers: 4), "four");

        Assert.Equal(one.Digest, four.Digest);
        Assert.Equal(one.Descriptor.Annotations, four.Descriptor.Annotations);
    }

    [Fact]
    public async Task Costs_little_over_plain_zstd_for_an_app_layer()
    {
        var tar = LayerTestData.Tar(LayerTestData.MakeFolder(Path.Combine(_root, "publish")));
        var plain = await ZstdBlobWriter.WriteAsync((s, ct) => s.WriteAsync(tar, ct).AsTask(), Path.Combine(_root, "plain"), new ZstdSettings(), CancellationToken.None);

        var (chunked, _, _) = await Write(tar);

        Assert.True(chunked.Size < plain.Size * 1.05, $"zstd:chunked {chunked.Size} bytes, plain zstd {plain.Size}");
    }

    [Fact]
    public async Task The_toc_and_the_tar_split_are_compressed_at_level_9_when_the_layer_level_is_lower()
    {
        // 3,000 small files, as in an OS layer: the TOC and the tar-split are then a few hundred kB.
        using var output = new MemoryStream();
        using (var writer = new TarWriter(output, TarEntryFormat.Pax, leaveOpen: true))
        {
            for (var i = 0; i < 3000; i++)
            {
                writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, $"usr/share/doc/package-{i}/copyright")
                {
                    ModificationTime = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero),
                    DataStream = new MemoryStream(LayerTestData.Text(200 + (i % 300), seed: i)),
                });
            }
        }

        var (_, bytes, reader) = await Write(output.ToArray(), new ZstdSettings(level: 3));

        var toc = reader.Annotations["io.github.containers.zstd-chunked.manifest-position"].Split(':').Select(long.Parse).ToArray();
        using (var level9 = new ZstdSharp.Compressor(9))
        {
            Assert.Equal(level9.Wrap(reader.TocJson).ToArray(), bytes.AsSpan((int)toc[0], (int)toc[1]).ToArray());
        }
        var tarSplit = reader.Annotations["io.github.containers.zstd-chunked.tarsplit-position"].Split(':').Select(long.Parse).ToArray();
        var lines = ZstdChunkedReader.Decompress(bytes.AsSpan((int)tarSplit[0], (int)tarSplit[1]));
        using var level3 = new ZstdSharp.Compressor(3);
        var atLevel3 = level3.Wrap(lines).Length;
        Assert.True(tarSplit[1] < atLevel3 * 0.95, $"tar-split {tarSplit[1]} bytes, {atLevel3} at level 3");
    }

    [Fact]
    public async Task A_global_pax_header_is_refused_with_a_code()
    {
        using var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, leaveOpen: true))
        {
            writer.WriteEntry(new PaxGlobalExtendedAttributesTarEntry(new Dictionary<string, string> { ["comment"] = "x" }));
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "a.txt") { DataStream = new MemoryStream("a"u8.ToArray()) });
        }

        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Write(tar.ToArray()));

        Assert.Equal(ErrorCodes.LayerNotChunkable, e.Code);
        Assert.Contains("PAX global header", e.Message);
    }

    [Fact]
    public async Task A_tar_cut_inside_a_file_is_refused()
    {
        var tar = MixedTar(TarEntryFormat.Pax);

        var e = await Assert.ThrowsAsync<ZstdContainersException>(() => Write(tar[..(tar.Length / 2)]));

        Assert.Equal(ErrorCodes.LayerNotChunkable, e.Code);
    }

    [Fact]
    public void Crc64_is_gos_iso_variant()
    {
        var crc = new Crc64Iso();
        crc.Append("1234"u8);
        crc.Append("56789"u8);

        Assert.Equal(Convert.FromHexString("B90956C775A41001"), crc.GetHashAndReset());
        Assert.Equal(ZstdChunkedReader.Crc64Iso("123456789"u8), Convert.FromHexString("B90956C775A41001"));
    }

    /// <summary>Directories, a long name, a 9 MB file (three chunks), an empty file, links, an xattr.</summary>
    private static byte[] MixedTar(TarEntryFormat format)
    {
        using var output = new MemoryStream();
        using (var writer = new TarWriter(output, format, leaveOpen: true))
        {
            var time = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);
            TarEntry Entry(TarEntryType type, string name, byte[]? content = null)
            {
                TarEntry entry = format switch
                {
                    TarEntryFormat.Gnu => new GnuTarEntry(type, name),
                    TarEntryFormat.Ustar => new UstarTarEntry(type, name),
                    _ => name.EndsWith(".dll", StringComparison.Ordinal)
                        ? new PaxTarEntry(type, name, new Dictionary<string, string> { ["SCHILY.xattr.user.test"] = "value" })
                        : new PaxTarEntry(type, name),
                };
                entry.ModificationTime = time;
                entry.Mode = (UnixFileMode)0b111_101_101;
                entry.Uid = 1654;
                entry.Gid = 1655;
                if (content is not null)
                {
                    entry.DataStream = new MemoryStream(content);
                }
                return entry;
            }

            writer.WriteEntry(Entry(TarEntryType.Directory, "app/"));
            var longName = format == TarEntryFormat.Ustar ? "app/" + new string('u', 90) + ".dll" : "app/" + new string('n', 120) + ".dll";
            writer.WriteEntry(Entry(TarEntryType.RegularFile, longName, LayerTestData.Text(100_000, seed: 1)));
            writer.WriteEntry(Entry(TarEntryType.RegularFile, "app/big.bin", LayerTestData.Text(9_000_000, seed: 2)));
            writer.WriteEntry(Entry(TarEntryType.RegularFile, "app/empty.txt", []));
            writer.WriteEntry(Entry(TarEntryType.RegularFile, "app/odd.txt", Encoding.UTF8.GetBytes(new string('x', 513))));
            var link = Entry(TarEntryType.SymbolicLink, "app/link");
            link.LinkName = "big.bin";
            writer.WriteEntry(link);
            var hard = Entry(TarEntryType.HardLink, "app/hard");
            hard.LinkName = "app/odd.txt";
            writer.WriteEntry(hard);
        }
        return output.ToArray();
    }

    /// <summary>Name → (TOC type, link target, content) as System.Formats.Tar reads the tar.</summary>
    private static Dictionary<string, (string Type, string LinkName, byte[] Content)> ReadTar(byte[] tar)
    {
        var result = new Dictionary<string, (string, string, byte[])>();
        using var reader = new TarReader(new MemoryStream(tar));
        while (reader.GetNextEntry() is { } entry)
        {
            using var content = new MemoryStream();
            entry.DataStream?.CopyTo(content);
            var type = entry.EntryType switch
            {
                TarEntryType.RegularFile or TarEntryType.V7RegularFile => "reg",
                TarEntryType.Directory => "dir",
                TarEntryType.SymbolicLink => "symlink",
                TarEntryType.HardLink => "hardlink",
                _ => entry.EntryType.ToString(),
            };
            result[entry.Name] = (type, entry.LinkName, content.ToArray());
        }
        return result;
    }
}
