using ZstdContainers.Destinations;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Tasks;

/// <summary>The SDK's LocalRegistry text becomes the core's runtime kind at the edge.</summary>
public sealed class LocalRegistrySettingTests
{
    [Theory]
    [InlineData("Docker", LocalRuntimeKind.Docker)]
    [InlineData("docker", LocalRuntimeKind.Docker)]
    [InlineData(" PODMAN ", LocalRuntimeKind.Podman)]
    [InlineData("podman", LocalRuntimeKind.Podman)]
    public void LocalRegistry_values_are_case_insensitive(string value, LocalRuntimeKind expected) =>
        Assert.Equal(expected, LocalRegistrySetting.Parse(value, "", ""));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("  ")]
    public void Empty_LocalRegistry_means_detect(string? value) => Assert.Null(LocalRegistrySetting.Parse(value, null, null));

    [Theory]
    [InlineData("containerd")]
    [InlineData("0")]
    [InlineData("Docker,Podman")]
    public void Unknown_LocalRegistry_is_a_coded_error_naming_the_allowed_values(string value)
    {
        var error = Assert.Throws<ZstdContainersException>(() => LocalRegistrySetting.Parse(value, "", ""));

        Assert.Equal(ErrorCodes.InvalidLocalRegistry, error.Code);
        Assert.Contains($"LocalRegistry is '{value}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Docker'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'Podman'", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Wslc")]
    [InlineData("macoscontainer")]
    public void Runtimes_newer_SDKs_know_are_ZSTDC1031(string value)
    {
        var error = Assert.Throws<ZstdContainersException>(() => LocalRegistrySetting.Parse(value, "", ""));

        Assert.Equal(ErrorCodes.UnsupportedLocalRegistry, error.Code);
        Assert.Contains("ContainerArchiveOutputPath", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("registry.test:5000", "")]
    [InlineData("", "/tmp/out.tar")]
    public void LocalRegistry_does_not_matter_when_the_image_goes_to_a_registry_or_an_archive(string outputRegistry, string archive) =>
        Assert.Null(LocalRegistrySetting.Parse("containerd", outputRegistry, archive));
}
