using System.Text;
using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Oci;

/// <summary>Digest: only "sha256:" and exactly 64 lowercase hex digits.</summary>
public sealed class DigestTests
{
    private const string Hex64 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"; // sha256 of nothing

    [Fact]
    public void Parse_accepts_a_sha256_digest_and_exposes_value_and_hex()
    {
        var digest = Digest.Parse("sha256:" + Hex64);

        Assert.Equal("sha256:" + Hex64, digest.Value);
        Assert.Equal(Hex64, digest.Hex);
        Assert.Equal("sha256:" + Hex64, digest.ToString());
    }

    public static TheoryData<string?> BadDigests => new()
    {
        null,
        "",
        " ",
        Hex64,
        "sha256:",
        "sha256:" + Hex64[..63],
        "sha256:" + Hex64 + "0",
        "sha256:" + Hex64.ToUpperInvariant(),
        "SHA256:" + Hex64,
        "sha512:" + Hex64,
        "sha256:" + Hex64[..63] + "g",
        "sha256: " + Hex64[..63],
        " sha256:" + Hex64,
        "sha256:" + Hex64 + " ",
        "sha256:" + Hex64 + "\r\n",
        "sha256:" + Hex64 + "@x",
        "sha256=" + Hex64,
    };

    [Theory]
    [MemberData(nameof(BadDigests))]
    public void TryParse_rejects_anything_else(string? text)
    {
        Assert.False(Digest.TryParse(text, out var digest));
        Assert.Equal(default, digest);
    }

    [Theory]
    [MemberData(nameof(BadDigests))]
    public void Parse_throws_a_FormatException_quoting_the_text(string? text)
    {
        if (text is null)
        {
            return; // Parse takes a non-null string
        }

        var e = Assert.Throws<FormatException>(() => Digest.Parse(text));

        Assert.Equal($"'{text}' is not a sha256 digest (sha256:<64 hex digits>).", e.Message);
    }

    /// <summary>
    /// .NET's '$' also matches before a final '\n', so "^...$" lets a trailing newline through
    /// (a header value or JSON string ending in "\n" would become a Digest whose Hex has a newline).
    /// </summary>
    [Fact]
    public void A_trailing_newline_is_rejected()
    {
        var text = "sha256:" + Hex64 + "\n";

        Assert.False(Digest.TryParse(text, out _));
        Assert.Throws<FormatException>(() => Digest.Parse(text));
    }

    [Fact]
    public void Of_hashes_the_content()
    {
        Assert.Equal("sha256:" + Hex64, Digest.Of([]).Value);
        Assert.Equal(
            "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            Digest.Of(Encoding.ASCII.GetBytes("abc")).Value);
    }

    [Fact]
    public void FromHash_writes_lowercase_hex()
    {
        var hash = Convert.FromHexString("BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD");

        Assert.Equal("sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", Digest.FromHash(hash).Value);
    }

    [Fact]
    public void Digests_with_the_same_value_are_equal()
    {
        Assert.Equal(Digest.Parse("sha256:" + Hex64), Digest.Of([]));
        Assert.NotEqual(Digest.Parse("sha256:" + Hex64), Digest.Of([1]));
    }
}
