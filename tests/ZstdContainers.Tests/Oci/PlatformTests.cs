using ZstdContainers.Oci;

namespace ZstdContainers.Tests.Oci;

/// <summary>Platform: RID → OCI platform and the matching rule used to pick from a base index.</summary>
public sealed class PlatformTests
{
    [Theory]
    [InlineData("linux-x64", "linux", "amd64", null)]
    [InlineData("linux-arm64", "linux", "arm64", "v8")]
    [InlineData("linux-arm", "linux", "arm", "v7")]
    [InlineData("linux-x86", "linux", "386", null)]
    [InlineData("linux-musl-x64", "linux", "amd64", null)]
    [InlineData("linux-musl-arm64", "linux", "arm64", "v8")]
    [InlineData("linux-musl-arm", "linux", "arm", "v7")]
    [InlineData("linux-bionic-arm64", "linux", "arm64", "v8")]
    [InlineData("linux-s390x", "linux", "s390x", null)]
    [InlineData("linux-ppc64le", "linux", "ppc64le", null)]
    [InlineData("linux-riscv64", "linux", "riscv64", null)]
    [InlineData("linux-loongarch64", "linux", "loong64", null)]
    [InlineData("win-x64", "windows", "amd64", null)]
    [InlineData("win-arm64", "windows", "arm64", "v8")]
    public void Known_runtime_identifiers_map_to_OCI_platforms(string rid, string os, string architecture, string? variant)
    {
        var platform = Platform.FromRuntimeIdentifier(rid);

        Assert.Equal(new Platform { Os = os, Architecture = architecture, Variant = variant }, platform);
    }

    [Theory]
    [InlineData("nonsense")]
    [InlineData("")]
    [InlineData("-x64")]
    [InlineData("linux-")]
    [InlineData("linux")]
    [InlineData("x64")]
    [InlineData("osx-x64")]
    [InlineData("osx-arm64")]
    [InlineData("freebsd-x64")]
    [InlineData("linux-mips")]
    [InlineData("linux-X64")]
    [InlineData("Linux-x64")]
    [InlineData("any")]
    public void Other_runtime_identifiers_give_null(string rid)
    {
        Assert.Null(Platform.FromRuntimeIdentifier(rid));
    }

    [Fact]
    public void ToString_is_os_slash_architecture_slash_variant()
    {
        Assert.Equal("linux/amd64", Platform.FromRuntimeIdentifier("linux-x64")!.ToString());
        Assert.Equal("linux/arm64/v8", Platform.FromRuntimeIdentifier("linux-arm64")!.ToString());
    }

    private static Platform P(string architecture, string? variant = null, string os = "linux") =>
        new() { Os = os, Architecture = architecture, Variant = variant };

    [Fact]
    public void Same_os_architecture_and_variant_satisfies()
    {
        Assert.True(P("arm", "v7").IsSatisfiedBy(P("arm", "v7")));
        Assert.True(P("amd64").IsSatisfiedBy(P("amd64")));
    }

    [Fact]
    public void A_missing_variant_on_either_side_satisfies()
    {
        Assert.True(P("arm64", "v8").IsSatisfiedBy(P("arm64")));
        Assert.True(P("arm64").IsSatisfiedBy(P("arm64", "v8")));
    }

    [Fact]
    public void Different_variants_do_not_satisfy()
    {
        Assert.False(P("arm", "v7").IsSatisfiedBy(P("arm", "v6")));
        Assert.False(P("arm", "v6").IsSatisfiedBy(P("arm", "v7")));
    }

    [Fact]
    public void Different_architecture_or_os_does_not_satisfy()
    {
        Assert.False(P("amd64").IsSatisfiedBy(P("arm64")));
        Assert.False(P("amd64").IsSatisfiedBy(P("amd64", os: "windows")));
        Assert.False(P("amd64").IsSatisfiedBy(P("AMD64")));
    }

    [Fact]
    public void Platform_json_leaves_out_a_missing_variant()
    {
        Assert.Equal("""{"architecture":"amd64","os":"linux"}""", System.Text.Encoding.UTF8.GetString(OciJson.Serialize(P("amd64"))));
        Assert.Equal("""{"architecture":"arm64","os":"linux","variant":"v8"}""", System.Text.Encoding.UTF8.GetString(OciJson.Serialize(P("arm64", "v8"))));
    }
}
