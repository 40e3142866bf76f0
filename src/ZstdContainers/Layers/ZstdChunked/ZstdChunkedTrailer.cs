using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using ZstdContainers.Oci;
using ZstdSharp;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>
/// What follows the last content frame of a zstd:chunked blob, all in zstd skippable frames (a
/// plain zstd reader skips them): the table of contents (JSON, zstd-compressed), the tar-split,
/// and a 64-byte footer that locates both; plus the descriptor annotations that readers use to
/// find them without reading the footer.
/// </summary>
/// <remarks>
/// The annotation names changed over time: containers/storage up to 1.43 (podman 4.3, Debian 12)
/// reads <c>io.containers.zstd-chunked.*</c>; 1.44 and later read <c>io.github.containers.zstd-chunked.*</c>;
/// 1.47–1.53 also want the tar-split's checksum as an annotation, later versions take it from the
/// TOC's tarSplitDigest. We write all of them, so every version finds what it looks for.
/// </remarks>
internal static class ZstdChunkedTrailer
{
    public const string ManifestChecksum = "io.github.containers.zstd-chunked.manifest-checksum";
    public const string ManifestPosition = "io.github.containers.zstd-chunked.manifest-position";
    public const string TarSplitPosition = "io.github.containers.zstd-chunked.tarsplit-position";
    public const string TarSplitChecksum = "io.github.containers.zstd-chunked.tarsplit-checksum";
    public const string LegacyManifestChecksum = "io.containers.zstd-chunked.manifest-checksum";
    public const string LegacyManifestPosition = "io.containers.zstd-chunked.manifest-position";

    public const int FooterSize = 64;

    /// <summary>The lowest level the TOC and the tar-split are compressed at.</summary>
    public const int MinMetadataLevel = 9;
    private const int ManifestTypeCrfs = 1;
    private const uint SkippableFrameMagic = 0x184D2A50;
    private static readonly byte[] FooterMagic = "GNUlInUx"u8.ToArray();

    /// <summary>
    /// The level for the TOC and the tar-split: the layer's, but at least <see cref="MinMetadataLevel"/>.
    /// A partial pull fetches both whole before any file, so they are most of what a pull of a
    /// small change moves; level 9 makes them 6% (TOC) and 15% (tar-split) smaller than level 3
    /// on the aspnet base's OS layer, for about 0.3 s of one core on its 8 MB of tar-split lines.
    /// </summary>
    public static int MetadataLevel(int layerLevel) => Math.Max(layerLevel, MinMetadataLevel);

    /// <summary>Writes TOC, tar-split and footer after the frames already written; returns the annotations.</summary>
    public static SortedDictionary<string, string> Write(FrameBatcher output, IReadOnlyList<TocEntry> entries, TarSplitRecorder tarSplit, int level)
    {
        var (tarSplitBytes, tarSplitDigest) = tarSplit.Finish();
        var toc = TocJson(entries, tarSplitDigest);
        byte[] compressedToc;
        using (var compressor = new Compressor(level))
        {
            compressedToc = compressor.Wrap(toc).ToArray();
        }

        var tocOffset = WriteSkippable(output, compressedToc);
        var tarSplitOffset = WriteSkippable(output, tarSplitBytes);

        var footer = new byte[FooterSize];
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(0), (ulong)tocOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(8), (ulong)compressedToc.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(16), (ulong)toc.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(24), ManifestTypeCrfs);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(32), (ulong)tarSplitOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(40), (ulong)tarSplitBytes.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(footer.AsSpan(48), (ulong)tarSplit.UncompressedSize);
        FooterMagic.CopyTo(footer.AsSpan(56));
        WriteSkippable(output, footer);

        var tocChecksum = Digest.Of(compressedToc).Value;
        var tocPosition = string.Create(CultureInfo.InvariantCulture, $"{tocOffset}:{compressedToc.Length}:{toc.Length}:{ManifestTypeCrfs}");
        return new SortedDictionary<string, string>(StringComparer.Ordinal)
        {
            [ManifestChecksum] = tocChecksum,
            [ManifestPosition] = tocPosition,
            [TarSplitPosition] = string.Create(CultureInfo.InvariantCulture, $"{tarSplitOffset}:{tarSplitBytes.Length}:{tarSplit.UncompressedSize}"),
            [TarSplitChecksum] = tarSplitDigest.Value,
            [LegacyManifestChecksum] = tocChecksum,
            [LegacyManifestPosition] = tocPosition,
        };
    }

    /// <summary>{"version":1,"entries":[…],"tarSplitDigest":"sha256:…"}, in that order (podman 4.3 reads "version" only before "entries").</summary>
    private static byte[] TocJson(IReadOnlyList<TocEntry> entries, Digest tarSplitDigest)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteNumber("version", 1);
            json.WriteStartArray("entries");
            foreach (var entry in entries)
            {
                entry.WriteTo(json);
            }
            json.WriteEndArray();
            json.WriteString("tarSplitDigest", tarSplitDigest.Value);
            json.WriteEndObject();
        }
        return buffer.WrittenSpan.ToArray();
    }

    /// <summary>Writes a skippable frame; returns where its content starts.</summary>
    private static long WriteSkippable(FrameBatcher output, ReadOnlySpan<byte> content)
    {
        Span<byte> header = stackalloc byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(header, SkippableFrameMagic);
        BinaryPrimitives.WriteUInt32LittleEndian(header[4..], (uint)content.Length);
        output.WriteRaw(header);
        var start = output.Position;
        output.WriteRaw(content);
        return start;
    }
}
