using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;

namespace ZstdContainers.Oci;

/// <summary>A sha256 content digest, "sha256:" followed by 64 lowercase hex digits.</summary>
[JsonConverter(typeof(DigestJsonConverter))]
public readonly partial record struct Digest
{
    private Digest(string value) => Value = value;

    public string Value { get; }

    public string Hex => Value["sha256:".Length..];

    public static Digest Parse(string value)
    {
        if (!TryParse(value, out var digest))
        {
            throw new FormatException($"'{value}' is not a sha256 digest (sha256:<64 hex digits>).");
        }
        return digest;
    }

    public static bool TryParse(string? value, out Digest digest)
    {
        if (value is not null && Sha256Pattern().IsMatch(value))
        {
            digest = new Digest(value);
            return true;
        }
        digest = default;
        return false;
    }

    public static Digest FromHash(ReadOnlySpan<byte> sha256) =>
        new("sha256:" + Convert.ToHexStringLower(sha256));

    public static Digest Of(ReadOnlySpan<byte> content) => FromHash(SHA256.HashData(content));

    public override string ToString() => Value;

    [GeneratedRegex(@"\Asha256:[a-f0-9]{64}\z")]
    private static partial Regex Sha256Pattern();
}

/// <summary>
/// Reads and writes a digest as its JSON string; a value that is not a sha256 digest is a
/// JsonException, so every reader of a manifest reports it as a malformed document.
/// </summary>
public sealed class DigestJsonConverter : JsonConverter<Digest>
{
    public override Digest Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        return Digest.TryParse(text, out var digest)
            ? digest
            : throw new JsonException($"'{text ?? reader.TokenType.ToString()}' is not a sha256 digest (sha256:<64 hex digits>).");
    }

    public override void Write(Utf8JsonWriter writer, Digest value, JsonSerializerOptions options) =>
        writer.WriteStringValue(value.Value);
}
