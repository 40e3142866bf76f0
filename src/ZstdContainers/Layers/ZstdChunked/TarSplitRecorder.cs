using System.Buffers;
using System.Text.Encodings.Web;
using System.Text.Json;
using ZstdContainers.Oci;
using ZstdSharp;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>
/// Records the layer's tar as tar-split (github.com/vbatts/tar-split) entries: the raw header and
/// padding bytes as "segments", each entry's content as a "file" reference with its CRC-64. With
/// it, containers/storage rebuilds the exact tar (and so checks the diff_id) from files it fetched
/// one by one. Lines of JSON, zstd-compressed as they come; only the compressed form is kept.
/// </summary>
internal sealed class TarSplitRecorder : IDisposable
{
    private const int SegmentType = 2;
    private const int FileType = 1;

    private readonly MemoryStream _compressed = new();
    private readonly CompressionStream _encoder;
    private readonly ArrayBufferWriter<byte> _line = new();
    private readonly Utf8JsonWriter _json;
    private int _position;

    public TarSplitRecorder(int level)
    {
        _encoder = new CompressionStream(_compressed, level, leaveOpen: true);
        _json = new Utf8JsonWriter(_line, new JsonWriterOptions { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
    }

    public long UncompressedSize { get; private set; }

    /// <summary>Raw archive bytes: headers with the padding before them, or the end of the archive.</summary>
    public void AddSegment(ReadOnlySpan<byte> bytes)
    {
        _json.WriteStartObject();
        _json.WriteNumber("type", SegmentType);
        _json.WriteBase64String("payload", bytes);
        _json.WriteNumber("position", _position++);
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>The entry whose header the last segment held; <paramref name="crc"/> is null when it has no content.</summary>
    public void AddFile(string name, long size, byte[]? crc)
    {
        _json.WriteStartObject();
        _json.WriteNumber("type", FileType);
        _json.WriteString("name", name);
        if (size != 0)
        {
            _json.WriteNumber("size", size);
        }
        if (crc is null)
        {
            _json.WriteNull("payload");
        }
        else
        {
            _json.WriteBase64String("payload", crc);
        }
        _json.WriteNumber("position", _position++);
        _json.WriteEndObject();
        EndLine();
    }

    /// <summary>Ends the zstd frame and returns the compressed tar-split with its sha256.</summary>
    public (byte[] Compressed, Digest Digest) Finish()
    {
        _encoder.Dispose();
        var bytes = _compressed.ToArray();
        return (bytes, Digest.Of(bytes));
    }

    private void EndLine()
    {
        _json.Flush();
        _json.Reset();
        _encoder.Write(_line.WrittenSpan);
        _encoder.WriteByte((byte)'\n');
        UncompressedSize += _line.WrittenCount + 1;
        _line.ResetWrittenCount();
    }

    public void Dispose()
    {
        _json.Dispose();
        _encoder.Dispose();
        _compressed.Dispose();
    }
}
