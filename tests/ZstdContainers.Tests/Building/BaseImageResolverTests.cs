using ZstdContainers.Building;
using ZstdContainers.Oci;
using ZstdContainers.Registry;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

public sealed class BaseImageResolverTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-resolver-").FullName;
    private readonly FakeRegistry _fake = new();

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task An_index_resolves_to_the_manifest_of_the_runtime_identifiers_platform_with_its_config_diff_ids()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(_fake));

        var resolved = await BaseImageResolver.ResolveAsync(client, baseImage.Reference, "linux-x64", CancellationToken.None);

        Assert.Equal(baseImage.Amd64ManifestDigest, resolved.ManifestDigest);
        Assert.Equal(baseImage.DiffIds, resolved.DiffIds);
        Assert.Equal("amd64", resolved.Platform.Architecture);
        Assert.Equal(2, resolved.Manifest.Layers.Count);
    }

    [Fact]
    public async Task A_platform_the_index_lacks_fails_with_a_code_that_lists_the_platforms_it_has()
    {
        var baseImage = FakeBaseImage.Push(_fake, _root);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(_fake));

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => BaseImageResolver.ResolveAsync(client, baseImage.Reference, "linux-s390x", CancellationToken.None));

        Assert.Equal(ErrorCodes.PlatformNotInBaseImage, error.Code);
        Assert.Contains("linux/amd64", error.Message, StringComparison.Ordinal);
        Assert.Contains("linux/arm64", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_config_with_fewer_diff_ids_than_layers_is_refused()
    {
        var config = OciJson.Serialize(new { architecture = "amd64", os = "linux", rootfs = new { type = "layers", diff_ids = new[] { BuildingTestKit.D('1').Value } } });
        _fake.AddBlob("base", config);
        var manifest = OciJson.Serialize(new ImageManifest
        {
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Of(config), Size = config.Length },
            Layers =
            [
                new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = BuildingTestKit.D('2'), Size = 1 },
                new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = BuildingTestKit.D('3'), Size = 1 },
            ],
        });
        _fake.AddManifest("base", "1", manifest, MediaTypes.OciManifest);
        using var client = new RegistryClient(RegistryTestHelpers.Registry, RegistryAccess.Pull, RegistryTestHelpers.Options(_fake));

        var error = await Assert.ThrowsAsync<ZstdContainersException>(() => BaseImageResolver.ResolveAsync(client, new ImageReference(RegistryTestHelpers.Registry, "base", "1"), "linux-x64", CancellationToken.None));

        Assert.Equal(ErrorCodes.UnsupportedManifest, error.Code);
        Assert.Contains("2 layers but its config 1 diff_ids", error.Message, StringComparison.Ordinal);
    }
}
