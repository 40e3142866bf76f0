// `LayerBench chunked --tar FILE [--level 3]`: where the bytes of a zstd:chunked layer go, against
// plain zstd of the same tar at the same level. Prints one JSON object per layer:
//   plain           our plain zstd blob (multi-threaded, 4 MiB jobs: what ZstdBlobWriter writes)
//   plainSingle     the same tar as one single-threaded zstd stream (no job boundaries)
//   chunked         our zstd:chunked blob, split into
//     contentFrames   frames the TOC points at (file contents): count, bytes in, bytes out
//     otherFrames     every other data frame (tar headers, padding, end of archive)
//     frameFixed      of all data frames: frame headers + 3-byte block headers + checksums
//     toc, tarSplit   the compressed TOC and tar-split; footer incl. skippable-frame headers
//   contentStream   all file contents as one single-threaded stream: content frames minus this is
//                   what one frame per file (and per 4 MiB chunk) costs
//   otherStream     all non-content bytes as one single-threaded stream
//   bySize          content frames by uncompressed size class: count, bytes in, bytes out
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Json;
using ZstdContainers.Layers;
using ZstdSharp;

internal static class ChunkedAnalysis
{
    public static async Task<object> RunAsync(string tarPath, int level, string outPath)
    {
        var settings = new ZstdSettings(level);
        async Task WriteTar(Stream tar, CancellationToken ct)
        {
            await using var input = new FileStream(tarPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
            await input.CopyToAsync(tar, 1 << 20, ct);
        }

        var plain = await ZstdBlobWriter.WriteAsync(WriteTar, outPath, settings, CancellationToken.None);
        var plainBytes = plain.Size;
        var chunked = await ZstdBlobWriter.WriteAsync(WriteTar, outPath, settings with { Chunked = true }, CancellationToken.None);
        var blob = await File.ReadAllBytesAsync(outPath);

        var annotations = chunked.Descriptor.Annotations!;
        var tocPos = annotations["io.github.containers.zstd-chunked.manifest-position"].Split(':').Select(long.Parse).ToArray();
        var splitPos = annotations["io.github.containers.zstd-chunked.tarsplit-position"].Split(':').Select(long.Parse).ToArray();
        using var decompressor = new Decompressor();
        var toc = JsonDocument.Parse(decompressor.Unwrap(blob.AsSpan((int)tocPos[0], (int)tocPos[1])).ToArray());

        // Content frames: the distinct [offset, endOffset) ranges of regular files and their chunks.
        // (A file in several chunks has a "reg" entry whose endOffset is its last chunk's end.)
        var ranges = new SortedDictionary<long, long>();
        foreach (var e in toc.RootElement.GetProperty("entries").EnumerateArray())
        {
            var type = e.GetProperty("type").GetString();
            if (type is not ("reg" or "chunk") || !e.TryGetProperty("endOffset", out _))
            {
                continue;
            }
            var offset = e.GetProperty("offset").GetInt64();
            long size = e.TryGetProperty("chunkSize", out var cs) ? cs.GetInt64() : e.GetProperty("size").GetInt64();
            ranges.TryAdd(offset, size);
        }

        // Walk every data frame before the TOC's skippable frame.
        long frames = 0, fixedBytes = 0, position = 0, dataEnd = tocPos[0] - 8;
        var contentFrames = new long[3];
        var classes = new[] { 4L << 10, 64L << 10, 1L << 20, long.MaxValue };
        var bySize = classes.Select(limit => new long[3]).ToArray();
        while (position < dataEnd)
        {
            var (length, overhead) = FrameLayout(blob.AsSpan((int)position));
            frames++;
            fixedBytes += overhead;
            if (ranges.TryGetValue(position, out var size))
            {
                contentFrames[0]++;
                contentFrames[1] += size;
                contentFrames[2] += length;
                var c = Array.FindIndex(classes, l => size < l);
                bySize[c][0]++;
                bySize[c][1] += size;
                bySize[c][2] += length;
            }
            position += length;
        }

        if (Environment.GetEnvironmentVariable("LAYERBENCH_DUMP") is { Length: > 0 } dump)
        {
            // The TOC and tar-split as they are in the blob, to try other levels on them with the zstd CLI.
            await File.WriteAllBytesAsync(dump + ".toc.zst", blob.AsSpan((int)tocPos[0], (int)tocPos[1]).ToArray());
            await File.WriteAllBytesAsync(dump + ".tarsplit.zst", blob.AsSpan((int)splitPos[0], (int)splitPos[1]).ToArray());
        }

        var (contentStream, otherStream, single) = SplitStreams(tarPath, level);
        var trailer = blob.Length - dataEnd;
        return new
        {
            tar = Path.GetFileName(tarPath),
            tarBytes = chunked.TarSize,
            level,
            plain = plainBytes,
            plainSingle = single,
            chunked = blob.Length,
            ratio = Math.Round((double)blob.Length / plainBytes, 4),
            frames,
            frameFixed = fixedBytes,
            contentFrames = new { count = contentFrames[0], bytesIn = contentFrames[1], bytesOut = contentFrames[2] },
            otherFrames = new { count = frames - contentFrames[0], bytesOut = dataEnd - contentFrames[2] },
            toc = tocPos[1],
            tocUncompressed = tocPos[2],
            tarSplit = splitPos[1],
            tarSplitUncompressed = splitPos[2],
            footer = trailer - tocPos[1] - splitPos[1],
            contentStream,
            otherStream,
            bySize = classes.Select((l, i) => new { below = l == long.MaxValue ? "any" : l.ToString(CultureInfo.InvariantCulture), count = bySize[i][0], bytesIn = bySize[i][1], bytesOut = bySize[i][2] }),
        };
    }

    /// <summary>A zstd frame's total length and the bytes in it that are not block content.</summary>
    private static (long Length, long Overhead) FrameLayout(ReadOnlySpan<byte> frame)
    {
        var magic = BinaryPrimitives.ReadUInt32LittleEndian(frame);
        if ((magic & 0xFFFFFFF0) == 0x184D2A50)
        {
            var size = 8 + BinaryPrimitives.ReadUInt32LittleEndian(frame[4..]);
            return (size, size);
        }
        var fhd = frame[4];
        var singleSegment = (fhd & 0x20) != 0;
        var fcsSize = (fhd >> 6) switch { 0 => singleSegment ? 1 : 0, 1 => 2, 2 => 4, _ => 8 };
        var dictSize = (fhd & 3) switch { 0 => 0, 1 => 1, 2 => 2, _ => 4 };
        var checksum = (fhd & 4) != 0 ? 4 : 0;
        long at = 5 + (singleSegment ? 0 : 1) + dictSize + fcsSize;
        var overhead = at + checksum;
        while (true)
        {
            var header = frame[(int)at] | (frame[(int)at + 1] << 8) | (frame[(int)at + 2] << 16);
            var last = (header & 1) != 0;
            var type = (header >> 1) & 3;
            var size = header >> 3;
            at += 3 + (type == 1 ? 1 : size);
            overhead += 3;
            if (last)
            {
                return (at + checksum, overhead);
            }
        }
    }

    /// <summary>The tar's file contents and its other bytes, each as one single-threaded stream; and the whole tar so.</summary>
    private static (long Content, long Other, long Whole) SplitStreams(string tarPath, int level)
    {
        var content = new CountingStream();
        var other = new CountingStream();
        var whole = new CountingStream();
        using (var contentZ = new CompressionStream(content, level, leaveOpen: true))
        using (var otherZ = new CompressionStream(other, level, leaveOpen: true))
        using (var wholeZ = new CompressionStream(whole, level, leaveOpen: true))
        using (var input = File.OpenRead(tarPath))
        {
            var block = new byte[512];
            var buffer = new byte[1 << 20];
            while (input.ReadAtLeast(block, 512, throwOnEndOfStream: false) == 512)
            {
                otherZ.Write(block);
                wholeZ.Write(block);
                var type = (char)block[156];
                var size = ParseSize(block.AsSpan(124, 12));
                var isContent = type is '0' or '\0' or '7';
                var padded = (size + 511) / 512 * 512;
                var remaining = padded;
                while (remaining > 0)
                {
                    var n = input.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
                    var payload = (int)Math.Max(0, Math.Min(n, size - (padded - remaining)));
                    (isContent ? contentZ : otherZ).Write(buffer, 0, payload);
                    otherZ.Write(buffer, payload, n - payload);
                    wholeZ.Write(buffer, 0, n);
                    remaining -= n;
                }
            }
        }
        return (content.Count, other.Count, whole.Count);
    }

    private static long ParseSize(ReadOnlySpan<byte> field)
    {
        if ((field[0] & 0x80) != 0)
        {
            long v = 0;
            for (var i = 4; i < field.Length; i++)
            {
                v = (v << 8) | field[i];
            }
            return v;
        }
        var text = System.Text.Encoding.ASCII.GetString(field).Trim('\0', ' ');
        return text.Length == 0 ? 0 : Convert.ToInt64(text, 8);
    }
}
