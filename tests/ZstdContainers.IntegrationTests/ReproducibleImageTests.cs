namespace ZstdContainers.IntegrationTests;

/// <summary>
/// SOURCE_DATE_EPOCH alone makes an image reproducible on SDK 10.0.401 (issue 10): the creation
/// labels the SDK's targets compute from the build time get the epoch instead.
/// </summary>
[Collection(RigCollection.Name)]
public sealed class ReproducibleImageTests(PackageFixture package)
{
    private const string EpochText = "2023-11-14T22:13:20.0000000Z";
    private static readonly Dictionary<string, string?> Epoch = new() { ["SOURCE_DATE_EPOCH"] = "1700000000" };

    [Fact]
    public async Task Two_publishes_with_the_epoch_give_the_same_manifest_digest_and_epoch_creation_labels()
    {
        var project = await TestProject.CreateAsync(package, "epoch-one");
        (await project.PublishAsync("it/epoch-one", "a", ["-p:ContainerLayerCompression=zstd"], Epoch)).EnsureSuccess("first publish");
        (await project.PublishAsync("it/epoch-one", "b", ["-p:ContainerLayerCompression=zstd"], Epoch)).EnsureSuccess("second publish");

        var (_, _, digestA) = await RegistryProbe.ManifestAsync("it/epoch-one", "a");
        var (manifestB, _, digestB) = await RegistryProbe.ManifestAsync("it/epoch-one", "b");
        Assert.Equal(digestA, digestB);
        var labels = (await RegistryProbe.ConfigAsync("it/epoch-one", manifestB))["config"]!["Labels"]!;
        Assert.Equal(EpochText, labels["org.opencontainers.image.created"]!.GetValue<string>());
        Assert.Equal(EpochText, labels["org.opencontainers.artifact.created"]!.GetValue<string>());
    }

    [Fact]
    public async Task Two_multi_rid_publishes_with_the_epoch_give_the_same_index_digest()
    {
        var project = await TestProject.CreateAsync(package, "epoch-index", "<RuntimeIdentifiers>linux-x64;linux-arm64</RuntimeIdentifiers><ContainerRuntimeIdentifiers>linux-x64;linux-arm64</ContainerRuntimeIdentifiers>");
        string[] props = ["-p:ContainerLayerCompression=zstd"];
        (await project.PublishAsync("it/epoch-index", "a", props, Epoch)).EnsureSuccess("first publish");
        (await project.PublishAsync("it/epoch-index", "b", props, Epoch)).EnsureSuccess("second publish");

        var (index, mediaType, digestA) = await RegistryProbe.ManifestAsync("it/epoch-index", "a");
        var (_, _, digestB) = await RegistryProbe.ManifestAsync("it/epoch-index", "b");
        Assert.Equal("application/vnd.oci.image.index.v1+json", mediaType);
        Assert.Equal(2, index["manifests"]!.AsArray().Count);
        Assert.Equal(digestA, digestB);
    }
}
