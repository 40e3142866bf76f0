using ZstdContainers.Building;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Tasks;

/// <summary>ContainerLayerCompression / ContainerLayerCompressionLevel / ContainerRecompressBaseLayers parsing.</summary>
public sealed class CompressionSettingsTests
{
    [Theory]
    [InlineData("zstd")]
    [InlineData("ZSTD")]
    [InlineData("Zstd")]
    [InlineData("  zstd  ")]
    [InlineData("\tzStD\n")]
    public void Zstd_in_any_case_and_with_surrounding_whitespace(string compression)
    {
        var options = CompressionSettings.Parse(compression, null, null);

        Assert.True(options.UseZstd);
        Assert.Equal(3, options.Level);
        Assert.True(options.RecompressBaseLayers);
        Assert.Null(options.CacheDirectory);
    }

    [Theory]
    [InlineData("zstd:chunked")]
    [InlineData(" ZSTD:Chunked ")]
    public void Zstd_chunked_is_zstd_with_chunked_layers(string compression)
    {
        var options = CompressionSettings.Parse(compression, "9", null);

        Assert.True(options.UseZstd);
        Assert.True(options.Chunked);
        Assert.Equal(9, options.Level);
        Assert.False(CompressionSettings.Parse("zstd", null, null).Chunked);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("gzip")]
    [InlineData("GZIP")]
    [InlineData(" Gzip ")]
    public void Gzip_or_empty_is_the_SDK_path(string? compression)
    {
        Assert.False(CompressionSettings.Parse(compression, "", "").UseZstd);
    }

    [Theory]
    [InlineData("brotli")]
    [InlineData("zstd19")]
    [InlineData("z std")]
    [InlineData("gz")]
    [InlineData("zstd:chunk")]
    [InlineData("gzip:chunked")]
    public void Unknown_compression_fails_ZSTDC1001_quoting_the_value_as_given(string compression)
    {
        var e = Assert.Throws<ZstdContainersException>(() => CompressionSettings.Parse(compression, null, null));

        Assert.Equal("ZSTDC1001", e.Code);
        Assert.Equal(
            $"ContainerLayerCompression is '{compression}', which ZstdContainers does not know. Allowed values: 'zstd' (zstd layers, OCI image), 'zstd:chunked' (zstd layers that podman and CRI-O can pull file by file) or 'gzip' (the SDK's own gzip layers, the default).",
            e.Message);
    }

    [Theory]
    [InlineData(null, 3)]
    [InlineData("", 3)]
    [InlineData("  ", 3)]
    [InlineData("1", 1)]
    [InlineData("22", 22)]
    [InlineData("3 ", 3)]
    [InlineData(" 19", 19)]
    [InlineData("07", 7)]
    public void Levels_1_to_22_and_empty_are_accepted(string? level, int expected)
    {
        Assert.Equal(expected, CompressionSettings.Parse("zstd", level, null).Level);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("23")]
    [InlineData("abc")]
    [InlineData("-1")]
    [InlineData("+3")]
    [InlineData("1.5")]
    [InlineData("3,0")]
    [InlineData("99999999999")]
    public void Levels_outside_1_to_22_or_not_whole_numbers_fail_ZSTDC1002(string level)
    {
        var e = Assert.Throws<ZstdContainersException>(() => CompressionSettings.Parse("zstd", level, null));

        Assert.Equal("ZSTDC1002", e.Code);
        Assert.Equal(
            $"ContainerLayerCompressionLevel is '{level}', but it must be a whole number from 1 to 22 (zstd levels; default 3, 19 for the smallest images at a slower publish).",
            e.Message);
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData(" ", true)]
    [InlineData("true", true)]
    [InlineData("True", true)]
    [InlineData(" TRUE ", true)]
    [InlineData("false", false)]
    [InlineData("False", false)]
    [InlineData("false ", false)]
    public void Recompress_true_false_or_empty(string? recompress, bool expected)
    {
        Assert.Equal(expected, CompressionSettings.Parse("zstd", null, recompress).RecompressBaseLayers);
    }

    [Theory]
    [InlineData("yes")]
    [InlineData("1")]
    [InlineData("no")]
    [InlineData("on")]
    public void Recompress_other_values_fail_ZSTDC1003(string recompress)
    {
        var e = Assert.Throws<ZstdContainersException>(() => CompressionSettings.Parse("zstd", null, recompress));

        Assert.Equal("ZSTDC1003", e.Code);
        Assert.Equal(
            $"ContainerRecompressBaseLayers is '{recompress}', but it must be 'true' (gzip base layers become zstd, the default) or 'false' (base layers are kept as they are).",
            e.Message);
    }

    [Theory]
    [InlineData("Docker")]
    [InlineData(" Docker ")]
    [InlineData("docker")]
    public void Zstd_with_the_Docker_image_format_fails_ZSTDC1006(string imageFormat)
    {
        var e = Assert.Throws<ZstdContainersException>(() => CompressionSettings.Parse("zstd", null, null, imageFormat));

        Assert.Equal("ZSTDC1006", e.Code);
        Assert.Equal(
            "ContainerImageFormat is 'Docker', but zstd layers exist only in the OCI image format: Docker v2 manifests with zstd layers are non-standard and strict clients refuse them. Remove ContainerImageFormat (zstd images are always OCI) or set it to 'OCI'.",
            e.Message);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("OCI")]
    public void Zstd_with_an_empty_or_OCI_image_format_is_fine(string? imageFormat)
    {
        Assert.True(CompressionSettings.Parse("zstd", null, null, imageFormat).UseZstd);
    }

    [Theory]
    [InlineData("gzip")]
    [InlineData("")]
    public void Gzip_or_empty_compression_with_the_Docker_image_format_is_fine(string compression)
    {
        var options = CompressionSettings.Parse(compression, null, null, "Docker");

        Assert.False(options.UseZstd);
    }

    [Fact]
    public void All_three_settings_together()
    {
        var options = CompressionSettings.Parse("zstd", "19", "false", "OCI");

        Assert.Equal(new CompressionOptions { UseZstd = true, Level = 19, RecompressBaseLayers = false }, options);
    }
}
