using ZstdContainers.Caching;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Tasks;

/// <summary>ContainerBaseLayerCompressionLevel and ContainerLayerCacheFrom parsing.</summary>
public sealed class CacheSettingsTests
{
    [Theory]
    [InlineData(null, null)]
    [InlineData("", null)]
    [InlineData(" 19 ", 19)]
    [InlineData("1", 1)]
    public void A_base_level_is_empty_or_1_to_22(string? text, int? expected) =>
        Assert.Equal(expected, ResolveZstdContainerSettings.ParseBaseLevel(text));

    [Theory]
    [InlineData("0")]
    [InlineData("23")]
    [InlineData("high")]
    public void Another_base_level_is_ZSTDC5004(string text)
    {
        var e = Assert.Throws<ZstdContainersException>(() => ResolveZstdContainerSettings.ParseBaseLevel(text));

        Assert.Equal(ErrorCodes.InvalidBaseCompressionLevel, e.Code);
        Assert.Contains("ContainerBaseLayerCompressionLevel", e.Message);
    }

    [Fact]
    public void Cache_from_takes_references_separated_by_semicolons_or_commas()
    {
        Assert.Equal(["ghcr.io/o/app:latest", "app:cache"], ResolveZstdContainerSettings.ParseCacheFrom(" ghcr.io/o/app:latest ; app:cache,"));
        Assert.Empty(ResolveZstdContainerSettings.ParseCacheFrom(null));
    }

    [Theory]
    [InlineData("Upper/Case:tag")]
    [InlineData("repo@sha256:nothex")]
    [InlineData("registry.io/:tag")]
    public void A_cache_from_entry_that_is_no_reference_is_ZSTDC5005(string text)
    {
        var e = Assert.Throws<ZstdContainersException>(() => ResolveZstdContainerSettings.ParseCacheFrom(text));

        Assert.Equal(ErrorCodes.InvalidLayerCacheFrom, e.Code);
        Assert.Contains(text, e.Message);
    }

    [Fact]
    public void A_reference_without_a_registry_is_on_the_output_registry()
    {
        Assert.Equal(new ZstdContainers.Oci.ImageReference("reg.test:5000", "team/app", "cache"), CacheFromReference.Parse("team/app:cache", "reg.test:5000"));
        Assert.Equal(new ZstdContainers.Oci.ImageReference("ghcr.io", "o/app", "latest"), CacheFromReference.Parse("ghcr.io/o/app", "reg.test:5000"));
        Assert.Equal(new ZstdContainers.Oci.ImageReference("localhost:5000", "app", "v1"), CacheFromReference.Parse("localhost:5000/app:v1", "x"));
    }
}
