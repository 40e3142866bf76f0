using System.Text.Json;
using System.Text.Json.Nodes;

namespace ZstdContainers.Oci;

/// <summary>
/// Reads an index, manifest or config that came from elsewhere (a registry, an inner build) so that
/// anything malformed — not JSON, a field of the wrong type, a digest that is not sha256 — becomes
/// ZSTDC6002 naming the image, the document and the field, never an exception with a stack.
/// </summary>
public static class ImageDocument
{
    public static T Deserialize<T>(ReadOnlySpan<byte> json, string image, string document)
    {
        try
        {
            return OciJson.Deserialize<T>(json);
        }
        catch (JsonException e)
        {
            // System.Text.Json names the field in Path ($.layers[0].digest).
            throw Invalid(image, document, e.Path is { Length: > 1 } path ? path[2..] : "(the document)", e.Message);
        }
    }

    public static JsonObject ParseObject(ReadOnlySpan<byte> json, string image, string document)
    {
        try
        {
            var reader = new Utf8JsonReader(json);
            return JsonNode.Parse(ref reader) as JsonObject ?? throw Invalid(image, document, "(the document)", "it is not a JSON object");
        }
        catch (JsonException e)
        {
            throw Invalid(image, document, "(the document)", e.Message);
        }
    }

    /// <summary>A string field, or null when absent or null; any other JSON type is an error.</summary>
    public static string? OptionalString(JsonObject parent, string field, string image, string document, string? path = null) =>
        parent[field] switch
        {
            null => null,
            JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
            var other => throw Invalid(image, document, path ?? field, $"is {other.GetValueKind()}, not a string"),
        };

    /// <summary>rootfs.diff_ids of a config: each a sha256 digest.</summary>
    public static List<Digest> DiffIds(JsonObject config, string image)
    {
        if (config["rootfs"] is not JsonObject rootfs)
        {
            throw Invalid(image, "config", "rootfs", config["rootfs"] is null ? "is missing" : "is not an object");
        }
        if (rootfs["diff_ids"] is not JsonArray ids)
        {
            throw Invalid(image, "config", "rootfs.diff_ids", rootfs["diff_ids"] is null ? "is missing" : "is not an array");
        }
        var digests = new List<Digest>(ids.Count);
        for (var i = 0; i < ids.Count; i++)
        {
            var text = ids[i] is JsonValue v && v.GetValueKind() == JsonValueKind.String ? v.GetValue<string>() : ids[i]?.ToJsonString();
            digests.Add(Digest.TryParse(text, out var digest)
                ? digest
                : throw Invalid(image, "config", $"rootfs.diff_ids[{i}]", $"is '{text}', not a sha256 digest (sha256:<64 hex digits>)"));
        }
        return digests;
    }

    /// <summary>
    /// The platform a config declares (os, architecture, variant). A field the config leaves out is
    /// taken from <paramref name="fallback"/>; without one, a missing os or architecture is an error.
    /// </summary>
    public static Platform ConfigPlatform(JsonObject config, string image, Platform? fallback = null) => new()
    {
        Os = OptionalString(config, "os", image, "config") ?? fallback?.Os ?? throw Invalid(image, "config", "os", "is missing"),
        Architecture = OptionalString(config, "architecture", image, "config") ?? fallback?.Architecture ?? throw Invalid(image, "config", "architecture", "is missing"),
        Variant = OptionalString(config, "variant", image, "config") ?? fallback?.Variant,
    };

    public static ZstdContainersException Invalid(string image, string document, string field, string why) =>
        new(ErrorCodes.InvalidImageDocument,
            $"The {document} of {image} cannot be used: {field} {why}. Check that the image is a valid OCI or Docker v2 image ({UserSetting.BaseImage}); ZstdContainers builds only on sha256 content.");
}
