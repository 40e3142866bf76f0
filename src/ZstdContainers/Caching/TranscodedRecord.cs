using System.Text.Json;
using System.Text.Json.Serialization;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

namespace ZstdContainers.Caching;

/// <summary>
/// What the cache remembers about one transcoded layer, stored as
/// <c>v1/transcoded/&lt;source-hex&gt;.L&lt;level&gt;.json</c> next to the blob it describes.
/// </summary>
internal sealed record TranscodedRecord
{
    /// <summary>The format of records written before zstd:chunked existed, which carry none.</summary>
    public const string PlainFormat = "zstd";

    private static readonly JsonSerializerOptions Options = new() { WriteIndented = true };

    [JsonPropertyName("sourceDigest")]
    public required string SourceDigest { get; init; }

    [JsonPropertyName("level")]
    public required int Level { get; init; }

    [JsonPropertyName("digest")]
    public required string Digest { get; init; }

    [JsonPropertyName("size")]
    public required long Size { get; init; }

    [JsonPropertyName("diffId")]
    public required string DiffId { get; init; }

    [JsonPropertyName("tarSize")]
    public required long TarSize { get; init; }

    [JsonPropertyName("mediaType")]
    public required string MediaType { get; init; }

    [JsonPropertyName("format")]
    public string Format { get; init; } = PlainFormat;

    /// <summary>The descriptor annotations the blob needs (zstd:chunked: where its table of contents is).</summary>
    [JsonPropertyName("annotations")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public SortedDictionary<string, string>? Annotations { get; init; }

    public static TranscodedRecord For(Digest sourceDigest, int level, string format, LayerBlob blob) => new()
    {
        Format = format,
        Annotations = blob.Descriptor.Annotations is { } a ? new SortedDictionary<string, string>(a.ToDictionary(), StringComparer.Ordinal) : null,
        SourceDigest = sourceDigest.Value,
        Level = level,
        Digest = blob.Descriptor.Digest.Value,
        Size = blob.Size,
        DiffId = blob.DiffId.Value,
        TarSize = blob.TarSize,
        MediaType = blob.Descriptor.MediaType,
    };

    public byte[] ToJson() => JsonSerializer.SerializeToUtf8Bytes(this, Options);

    /// <summary>
    /// Writes the record to <paramref name="recordPath"/> by an atomic rename of a complete file made in
    /// <paramref name="tempFolder"/>, so a reader sees a whole record or none. A failure only costs the
    /// next build a recompression, so it is logged, not thrown.
    /// </summary>
    public void Write(string recordPath, string tempFolder, IBuildLog log)
    {
        var temp = Path.Combine(tempFolder, $"{Path.GetFileName(recordPath)}.{Guid.NewGuid():N}.tmp");
        try
        {
            File.WriteAllBytes(temp, ToJson());
            for (var attempt = 1; ; attempt++)
            {
                try
                {
                    File.Move(temp, recordPath, overwrite: true);
                    return;
                }
                catch (Exception e) when (attempt < 3 && e is IOException or UnauthorizedAccessException)
                {
                    // Windows: another build is reading the record this instant.
                    Thread.Sleep(50 * attempt);
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            BlobFile.TryDelete(temp);
            log.Detail($"Could not write the layer cache record {recordPath}: {e.Message}. The next build recompresses the layer again.");
        }
    }

    /// <summary>The record in <paramref name="json"/>, or null with the reason it cannot be used.</summary>
    public static TranscodedRecord? Parse(byte[] json, Digest sourceDigest, int level, string format, out string? problem)
    {
        TranscodedRecord? record;
        try
        {
            record = JsonSerializer.Deserialize<TranscodedRecord>(json, Options);
        }
        catch (JsonException e)
        {
            problem = $"its record is not valid JSON ({e.Message})";
            return null;
        }

        problem = record switch
        {
            null => "its record is empty",
            _ when record.SourceDigest != sourceDigest.Value || record.Level != level || record.Format != format =>
                $"its record describes {record.SourceDigest} at level {record.Level} as {record.Format}",
            _ when !Oci.Digest.TryParse(record.Digest, out _) || !Oci.Digest.TryParse(record.DiffId, out _) =>
                "its record holds a malformed digest",
            _ when record.Size <= 0 || record.TarSize < 0 || string.IsNullOrEmpty(record.MediaType) =>
                "its record holds an impossible size or no media type",
            _ => null,
        };
        return problem is null ? record : null;
    }

    public LayerBlob ToBlob(string path) => new(
        path,
        new Descriptor { MediaType = MediaType, Digest = Oci.Digest.Parse(Digest), Size = Size, Annotations = Annotations },
        Oci.Digest.Parse(DiffId),
        TarSize);
}
