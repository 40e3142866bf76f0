using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using ZstdContainers.Layers;
using ZstdContainers.Oci;
using ZstdSharp;

namespace ZstdContainers.Tests.Layers;

/// <summary>
/// Reads a zstd:chunked blob the way containers/storage does, independently of the writer's code:
/// the TOC through the position annotation (checksum checked), each file's content by decompressing
/// only its own byte range, the tar-split to rebuild the tar.
/// </summary>
internal sealed class ZstdChunkedReader
{
    private readonly byte[] _blob;

    public ZstdChunkedReader(byte[] blob, IReadOnlyDictionary<string, string> annotations)
    {
        _blob = blob;
        Annotations = annotations;
        var (offset, length, uncompressed, type) = Position(annotations["io.github.containers.zstd-chunked.manifest-position"]);
        Assert.Equal(1, type);
        var compressedToc = blob.AsSpan((int)offset, (int)length);
        Assert.Equal(annotations["io.github.containers.zstd-chunked.manifest-checksum"], Digest.Of(compressedToc).Value);
        TocJson = Decompress(compressedToc);
        Assert.Equal(uncompressed, TocJson.Length);
        Toc = JsonDocument.Parse(TocJson).RootElement;
    }

    public IReadOnlyDictionary<string, string> Annotations { get; }

    public byte[] TocJson { get; }

    public JsonElement Toc { get; }

    /// <summary>Entries other than "chunk" ones, by name.</summary>
    public IReadOnlyDictionary<string, JsonElement> Entries => Toc.GetProperty("entries").EnumerateArray()
        .Where(e => e.GetProperty("type").GetString() != "chunk")
        .ToDictionary(e => e.GetProperty("name").GetString()!);

    /// <summary>A regular file's content, from its frames alone (and its chunks' frames).</summary>
    public byte[] ReadFile(string name)
    {
        var all = Toc.GetProperty("entries").EnumerateArray().ToList();
        var start = all.FindIndex(e => e.GetProperty("name").GetString() == name && e.GetProperty("type").GetString() == "reg");
        var parts = new List<JsonElement> { all[start] };
        parts.AddRange(all.Skip(start + 1).TakeWhile(e => e.GetProperty("type").GetString() == "chunk"));
        using var content = new MemoryStream();
        for (var i = 0; i < parts.Count; i++)
        {
            // As containers/storage derives it: a chunk ends where the next begins, the last at the file's endOffset.
            var part = parts[i];
            var offset = part.GetProperty("offset").GetInt64();
            var end = i + 1 < parts.Count ? parts[i + 1].GetProperty("offset").GetInt64() : parts[0].GetProperty("endOffset").GetInt64();
            var piece = Decompress(_blob.AsSpan((int)offset, (int)(end - offset)));
            if (parts.Count > 1)
            {
                Assert.Equal(part.GetProperty("chunkSize").GetInt64(), piece.Length);
                Assert.Equal(part.GetProperty("chunkDigest").GetString(), Digest.Of(piece).Value);
                Assert.Equal(content.Length, part.TryGetProperty("chunkOffset", out var o) ? o.GetInt64() : 0);
            }
            content.Write(piece);
        }
        var bytes = content.ToArray();
        Assert.Equal(parts[0].GetProperty("digest").GetString(), Digest.Of(bytes).Value);
        return bytes;
    }

    /// <summary>The tar-split's lines, checked against its digest in the TOC and its position annotation.</summary>
    public List<JsonElement> TarSplit()
    {
        var (offset, length, uncompressed, _) = Position(Annotations["io.github.containers.zstd-chunked.tarsplit-position"] + ":0");
        var compressed = _blob.AsSpan((int)offset, (int)length);
        Assert.Equal(Toc.GetProperty("tarSplitDigest").GetString(), Digest.Of(compressed).Value);
        Assert.Equal(Annotations["io.github.containers.zstd-chunked.tarsplit-checksum"], Digest.Of(compressed).Value);
        var lines = Decompress(compressed);
        Assert.Equal(uncompressed, lines.Length);
        return System.Text.Encoding.UTF8.GetString(lines)
            .Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(line => JsonDocument.Parse(line).RootElement)
            .ToList();
    }

    /// <summary>Rebuilds the tar from the tar-split and the file contents, as tar-split's assembler does.</summary>
    public byte[] Reassemble()
    {
        using var tar = new MemoryStream();
        var position = 0;
        foreach (var entry in TarSplit())
        {
            Assert.Equal(position++, entry.GetProperty("position").GetInt32());
            if (entry.GetProperty("type").GetInt32() == 2)
            {
                tar.Write(entry.GetProperty("payload").GetBytesFromBase64());
                continue;
            }
            var size = entry.TryGetProperty("size", out var s) ? s.GetInt64() : 0;
            if (size == 0)
            {
                continue;
            }
            var content = ReadFile(entry.GetProperty("name").GetString()!);
            Assert.Equal(entry.GetProperty("payload").GetBytesFromBase64(), Crc64Iso(content));
            tar.Write(content);
        }
        return tar.ToArray();
    }

    /// <summary>The last skippable frame: offsets of TOC and tar-split, and the magic.</summary>
    public ulong[] Footer()
    {
        var frame = _blob[^72..];
        Assert.Equal(0x184D2A50u, BinaryPrimitives.ReadUInt32LittleEndian(frame));
        Assert.Equal(64u, BinaryPrimitives.ReadUInt32LittleEndian(frame.AsSpan(4)));
        Assert.Equal("GNUlInUx"u8.ToArray(), frame[64..]);
        return Enumerable.Range(0, 7).Select(i => BinaryPrimitives.ReadUInt64LittleEndian(frame.AsSpan(8 + (8 * i)))).ToArray();
    }

    public static byte[] Decompress(ReadOnlySpan<byte> frames)
    {
        using var decoder = new DecompressionStream(new MemoryStream(frames.ToArray()));
        using var output = new MemoryStream();
        decoder.CopyTo(output);
        return output.ToArray();
    }

    /// <summary>Go's crc64 with the ISO table, written out bit by bit (no table) as a second opinion.</summary>
    public static byte[] Crc64Iso(ReadOnlySpan<byte> data)
    {
        var crc = ulong.MaxValue;
        foreach (var b in data)
        {
            crc ^= b;
            for (var i = 0; i < 8; i++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xD800000000000000 : crc >> 1;
            }
        }
        var result = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(result, ~crc);
        return result;
    }

    private static (long, long, long, long) Position(string value)
    {
        var parts = value.Split(':').Select(p => long.Parse(p, CultureInfo.InvariantCulture)).ToArray();
        return (parts[0], parts[1], parts[2], parts[3]);
    }
}
