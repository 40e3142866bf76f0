using System.Text.Encodings.Web;
using System.Text.Json;

namespace ZstdContainers.Oci;

/// <summary>
/// The one place JSON for manifests, indexes and configs is written, so the same object always
/// gives the same bytes (and so the same digest).
/// </summary>
public static class OciJson
{
    public static readonly JsonSerializerOptions Options = new()
    {
        WriteIndented = false,
        // Keep '+' in media types and '<' '>' in labels as they are, as other OCI tools do.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static byte[] Serialize<T>(T value) => JsonSerializer.SerializeToUtf8Bytes(value, Options);

    public static T Deserialize<T>(ReadOnlySpan<byte> json) =>
        JsonSerializer.Deserialize<T>(json, Options)
        ?? throw new JsonException($"The document is empty where a {typeof(T).Name} was expected.");

    /// <summary>The mediaType field of a manifest-like document, or null when it has none.</summary>
    public static string? PeekMediaType(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var doc = JsonDocument.ParseValue(ref reader);
        return doc.RootElement.ValueKind == JsonValueKind.Object
            && doc.RootElement.TryGetProperty("mediaType", out var mt)
            && mt.ValueKind == JsonValueKind.String
            ? mt.GetString()
            : null;
    }
}
