using System.Formats.Tar;
using System.IO.Compression;
using System.Text;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.IntegrationTests;

/// <summary>
/// Pushes a base image whose config lists a diff_id its layer does not have — what a damaged or
/// tampered base looks like once the registry has checked the blob digests.
/// </summary>
public static class CorruptBase
{
    public sealed record Pushed(string Reference, string LayerDigest, string ClaimedDiffId, string ActualDiffId);

    public static async Task<Pushed> PushAsync(string repository, string tag)
    {
        var tar = new MemoryStream();
        using (var writer = new TarWriter(tar, TarEntryFormat.Pax, leaveOpen: true))
        {
            writer.WriteEntry(new PaxTarEntry(TarEntryType.RegularFile, "etc/base-release") { DataStream = new MemoryStream("corrupt base\n"u8.ToArray()) });
        }
        var tarBytes = tar.ToArray();
        var gz = new MemoryStream();
        using (var zip = new GZipStream(gz, CompressionLevel.Optimal, leaveOpen: true))
        {
            zip.Write(tarBytes);
        }
        var layer = gz.ToArray();
        var actualDiffId = Digest.Of(tarBytes);
        var claimedDiffId = Digest.Of(Encoding.UTF8.GetBytes("something else entirely"));
        var config = Encoding.UTF8.GetBytes(
            "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Env\":[\"PATH=/usr/bin\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" + claimedDiffId + "\"]}}");
        var manifest = OciJson.Serialize(new ImageManifest
        {
            Config = new Descriptor { MediaType = MediaTypes.OciConfig, Digest = Digest.Of(config), Size = config.Length },
            Layers = [new Descriptor { MediaType = MediaTypes.OciLayerGzip, Digest = Digest.Of(layer), Size = layer.Length }],
        });

        using var client = new RegistryClient(Rig.Registry, RegistryAccess.Push, new RegistryClientOptions());
        await client.UploadBlobAsync(repository, Digest.Of(layer), layer.Length, () => new MemoryStream(layer), CancellationToken.None);
        await client.UploadBlobAsync(repository, Digest.Of(config), config.Length, () => new MemoryStream(config), CancellationToken.None);
        await client.PutManifestAsync(repository, tag, manifest, MediaTypes.OciManifest, CancellationToken.None);
        return new Pushed($"{Rig.Registry}/{repository}:{tag}", Digest.Of(layer).Value, claimedDiffId.Value, actualDiffId.Value);
    }
}
