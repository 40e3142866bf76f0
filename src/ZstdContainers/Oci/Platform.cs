using System.Text.Json.Serialization;

namespace ZstdContainers.Oci;

public sealed record Platform
{
    [JsonPropertyName("architecture")]
    public required string Architecture { get; init; }

    [JsonPropertyName("os")]
    public required string Os { get; init; }

    [JsonPropertyName("variant")]
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Variant { get; init; }

    public override string ToString() =>
        Variant is null ? $"{Os}/{Architecture}" : $"{Os}/{Architecture}/{Variant}";

    /// <summary>
    /// Maps a .NET runtime identifier to the OCI platform images use for it
    /// (linux-x64 → linux/amd64, linux-arm64 → linux/arm64/v8, linux-arm → linux/arm/v7).
    /// </summary>
    public static Platform? FromRuntimeIdentifier(string rid)
    {
        var dash = rid.LastIndexOf('-');
        if (dash <= 0)
        {
            return null;
        }
        var osPart = rid[..dash];
        var archPart = rid[(dash + 1)..];
        var os = osPart switch
        {
            "linux" or "linux-musl" or "linux-bionic" => "linux",
            "win" => "windows",
            _ when osPart.StartsWith("linux", StringComparison.Ordinal) => "linux",
            _ when osPart.StartsWith("win", StringComparison.Ordinal) => "windows",
            _ => null,
        };
        (string Arch, string? Variant)? arch = archPart switch
        {
            "x64" => ("amd64", null),
            "x86" => ("386", null),
            "arm64" => ("arm64", "v8"),
            "arm" => ("arm", "v7"),
            "s390x" => ("s390x", null),
            "ppc64le" => ("ppc64le", null),
            "riscv64" => ("riscv64", null),
            "loongarch64" => ("loong64", null),
            _ => null,
        };
        return os is null || arch is null
            ? null
            : new Platform { Os = os, Architecture = arch.Value.Arch, Variant = arch.Value.Variant };
    }

    /// <summary>
    /// True when an image built for <paramref name="candidate"/> serves this platform. A missing
    /// variant on either side matches (indexes often omit arm64's v8).
    /// </summary>
    public bool IsSatisfiedBy(Platform candidate) =>
        string.Equals(Os, candidate.Os, StringComparison.Ordinal)
        && string.Equals(Architecture, candidate.Architecture, StringComparison.Ordinal)
        && (Variant is null || candidate.Variant is null
            || string.Equals(Variant, candidate.Variant, StringComparison.Ordinal));
}
