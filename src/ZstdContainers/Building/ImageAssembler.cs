using System.Text.Json.Nodes;
using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>Serialises config and OCI manifest and fixes their digests: the image is final from here on.</summary>
public static class ImageAssembler
{
    public static BuiltImage Assemble(
        JsonObject config, IReadOnlyList<ImageLayer> layers, Platform platform, IReadOnlyDictionary<string, string>? annotations = null)
    {
        var configBytes = System.Text.Encoding.UTF8.GetBytes(config.ToJsonString(OciJson.Options));
        var configDigest = Digest.Of(configBytes);
        var manifest = new ImageManifest
        {
            MediaType = MediaTypes.OciManifest,
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = configDigest, Size = configBytes.Length },
            Layers = [.. layers.Select(l => l.Descriptor)],
            Annotations = annotations,
        };
        var manifestBytes = OciJson.Serialize(manifest);
        return new BuiltImage(manifestBytes, Digest.Of(manifestBytes), MediaTypes.OciManifest, configBytes, configDigest, layers, platform);
    }
}
