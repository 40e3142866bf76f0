using System.Text.Json.Nodes;
using ZstdContainers.Oci;
using ZstdContainers.Tests.Layers;
using ZstdContainers.Tests.Registry;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// A small base image in the <see cref="FakeRegistry"/>: an OCI index (linux/amd64 and linux/arm64)
/// whose amd64 manifest has two gzip layers of real tars, and a config listing their diff_ids.
/// </summary>
internal sealed class FakeBaseImage
{
    public const string Repository = "dotnet/aspnet";
    public const string Tag = "10.0";

    public required IReadOnlyList<byte[]> GzipBlobs { get; init; }

    public required IReadOnlyList<Digest> DiffIds { get; init; }

    public required Digest Amd64ManifestDigest { get; init; }

    public ImageReference Reference => new(RegistryTestHelpers.Registry, Repository, Tag);

    public IEnumerable<Digest> BlobDigests => GzipBlobs.Select(b => Digest.Of(b));

    /// <param name="diffIdOverride">Writes this into the config for the first layer instead of its true diff_id.</param>
    public static FakeBaseImage Push(FakeRegistry fake, string workDirectory, Digest? diffIdOverride = null)
    {
        var tars = Enumerable.Range(0, 2).Select(i =>
        {
            var folder = Directory.CreateDirectory(Path.Combine(workDirectory, "base-layer-" + i)).FullName;
            File.WriteAllBytes(Path.Combine(folder, "lib" + i + ".so"), LayerTestData.Text(200_000 + (i * 50_000), seed: 7 + i));
            return LayerTestData.Tar(folder);
        }).ToList();
        var blobs = tars.Select(LayerTestData.Gzip).ToList();
        var diffIds = tars.Select(t => Digest.Of(t)).ToList();
        foreach (var blob in blobs)
        {
            fake.AddBlob(Repository, blob);
        }

        var listed = diffIds.Select((d, i) => i == 0 && diffIdOverride is { } o ? o : d).ToList();
        var config = new JsonObject
        {
            ["architecture"] = "amd64",
            ["os"] = "linux",
            ["config"] = new JsonObject { ["Env"] = new JsonArray("PATH=/usr/bin", "APP_UID=1654") },
            ["rootfs"] = new JsonObject
            {
                ["type"] = "layers",
                ["diff_ids"] = new JsonArray([.. listed.Select(d => (JsonNode?)JsonValue.Create(d.Value))]),
            },
        };
        var configBytes = OciJson.Serialize(config);
        fake.AddBlob(Repository, configBytes);
        var manifest = OciJson.Serialize(new ImageManifest
        {
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Of(configBytes), Size = configBytes.Length },
            Layers = [.. blobs.Select(b => new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Of(b), Size = b.Length })],
        });
        fake.AddManifest(Repository, Digest.Of(manifest).Value, manifest, MediaTypes.OciManifest);
        var index = OciJson.Serialize(new ImageIndex
        {
            MediaType = MediaTypes.OciIndex,
            Manifests =
            [
                new Descriptor { MediaType = MediaTypes.OciManifest, Digest = Digest.Of(manifest), Size = manifest.Length, Platform = new Platform { Os = "linux", Architecture = "amd64" } },
                new Descriptor { MediaType = MediaTypes.OciManifest, Digest = BuildingTestKit.D('a'), Size = 100, Platform = new Platform { Os = "linux", Architecture = "arm64", Variant = "v8" } },
            ],
        });
        fake.AddManifest(Repository, Tag, index, MediaTypes.OciIndex);
        return new FakeBaseImage { GzipBlobs = blobs, DiffIds = diffIds, Amd64ManifestDigest = Digest.Of(manifest) };
    }
}
