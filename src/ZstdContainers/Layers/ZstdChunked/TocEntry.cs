using System.Globalization;
using System.Text.Json;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>A tar timestamp with the nanoseconds a PAX record may carry (DateTimeOffset keeps only 100 ns).</summary>
internal readonly record struct UnixTime(long Seconds, int Nanoseconds)
{
    /// <summary>RFC 3339 in UTC with the fraction trimmed of trailing zeros, as Go's time.Time marshals.</summary>
    public string ToRfc3339()
    {
        var text = DateTimeOffset.FromUnixTimeSeconds(Seconds).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss", CultureInfo.InvariantCulture);
        if (Nanoseconds != 0)
        {
            text += "." + Nanoseconds.ToString("D9", CultureInfo.InvariantCulture).TrimEnd('0');
        }
        return text + "Z";
    }

    /// <summary>A PAX time record: seconds, optionally a fraction ("1700000000.25", "-1.5").</summary>
    public static UnixTime ParsePax(string value)
    {
        var dot = value.IndexOf('.', StringComparison.Ordinal);
        var wholePart = dot < 0 ? value : value[..dot];
        var negative = wholePart.StartsWith('-');
        var seconds = wholePart is "" or "-" ? 0 : long.Parse(wholePart, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture);
        if (dot < 0)
        {
            return new UnixTime(seconds, 0);
        }
        var fraction = value[(dot + 1)..];
        fraction = fraction.Length > 9 ? fraction[..9] : fraction.PadRight(9, '0');
        var nanos = int.Parse(fraction, NumberStyles.None, CultureInfo.InvariantCulture);
        // "-1.5" is 1.5 s before the epoch: -2 s + 0.5 s.
        return negative && nanos != 0 ? new UnixTime(seconds - 1, 1_000_000_000 - nanos) : new UnixTime(seconds, nanos);
    }
}

/// <summary>One chunk of a regular file: its own zstd frame in the blob.</summary>
internal sealed class TocChunk
{
    public long ChunkOffset { get; init; }

    public long ChunkSize { get; set; }

    public string ChunkDigest { get; set; } = string.Empty;

    /// <summary>Where the chunk's frame starts in the blob; known once the frame is written.</summary>
    public long Offset { get; set; }

    public long EndOffset { get; set; }
}

/// <summary>
/// One tar entry as the zstd:chunked table of contents describes it (containers/storage's
/// FileMetadata): the header's metadata, the sha256 of the content and where its frames are.
/// </summary>
internal sealed class TocEntry
{
    public char TypeFlag { get; set; }

    public string Name { get; set; } = string.Empty;

    public string LinkName { get; set; } = string.Empty;

    public long Mode { get; init; }

    public long Size { get; set; }

    public long Uid { get; set; }

    public long Gid { get; set; }

    public UnixTime ModTime { get; set; }

    public UnixTime? AccessTime { get; set; }

    public UnixTime? ChangeTime { get; set; }

    public long DevMajor { get; set; }

    public long DevMinor { get; set; }

    /// <summary>SCHILY.xattr.* PAX records: name → value as base64, ordered by name.</summary>
    public SortedDictionary<string, string> Xattrs { get; } = new(StringComparer.Ordinal);

    /// <summary>"sha256:…" of the content; empty for entries without content.</summary>
    public string Digest { get; set; } = string.Empty;

    public List<TocChunk> Chunks { get; } = [];

    /// <summary>The TOC type name, or null for a tar type zstd:chunked cannot describe.</summary>
    public string? TypeName => TypeFlag switch
    {
        '0' or '\0' => "reg",
        '1' => "hardlink",
        '2' => "symlink",
        '3' => "char",
        '4' => "block",
        '5' => "dir",
        '6' => "fifo",
        _ => null,
    };

    /// <summary>Types whose size field never announces data that follows the header (Go's isHeaderOnlyType).</summary>
    public bool IsHeaderOnly => TypeFlag is '1' or '2' or '3' or '4' or '5' or '6';

    /// <summary>
    /// Writes the entry and, for a file in several chunks, its "chunk" entries. Field names, order
    /// and omitted zero values follow containers/storage's FileMetadata JSON.
    /// </summary>
    public void WriteTo(Utf8JsonWriter json)
    {
        json.WriteStartObject();
        json.WriteString("type", TypeName);
        json.WriteString("name", Name);
        WriteIfSet(json, "linkName", LinkName);
        WriteIfSet(json, "mode", Mode);
        WriteIfSet(json, "size", Size);
        WriteIfSet(json, "uid", Uid);
        WriteIfSet(json, "gid", Gid);
        json.WriteString("modtime", ModTime.ToRfc3339());
        if (AccessTime is { } atime)
        {
            json.WriteString("accesstime", atime.ToRfc3339());
        }
        if (ChangeTime is { } ctime)
        {
            json.WriteString("changetime", ctime.ToRfc3339());
        }
        WriteIfSet(json, "devMajor", DevMajor);
        WriteIfSet(json, "devMinor", DevMinor);
        if (Xattrs.Count > 0)
        {
            json.WriteStartObject("xattrs");
            foreach (var (key, value) in Xattrs)
            {
                json.WriteString(key, value);
            }
            json.WriteEndObject();
        }
        WriteIfSet(json, "digest", Digest);
        if (Chunks.Count > 0)
        {
            json.WriteNumber("offset", Chunks[0].Offset);
            json.WriteNumber("endOffset", Chunks[^1].EndOffset);
        }
        if (Chunks.Count > 1)
        {
            WriteChunkFields(json, Chunks[0]);
        }
        json.WriteEndObject();

        for (var i = 1; i < Chunks.Count; i++)
        {
            json.WriteStartObject();
            json.WriteString("type", "chunk");
            json.WriteString("name", Name);
            json.WriteNumber("offset", Chunks[i].Offset);
            json.WriteNumber("endOffset", Chunks[i].EndOffset);
            WriteChunkFields(json, Chunks[i]);
            json.WriteEndObject();
        }
    }

    private static void WriteChunkFields(Utf8JsonWriter json, TocChunk chunk)
    {
        json.WriteNumber("chunkSize", chunk.ChunkSize);
        WriteIfSet(json, "chunkOffset", chunk.ChunkOffset);
        json.WriteString("chunkDigest", chunk.ChunkDigest);
    }

    private static void WriteIfSet(Utf8JsonWriter json, string name, string value)
    {
        if (value.Length > 0)
        {
            json.WriteString(name, value);
        }
    }

    private static void WriteIfSet(Utf8JsonWriter json, string name, long value)
    {
        if (value != 0)
        {
            json.WriteNumber(name, value);
        }
    }
}
