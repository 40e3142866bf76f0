using System.Text.Json;
using System.Text.Json.Nodes;
using ZstdContainers.Oci;
using ZstdContainers.Registry;

namespace ZstdContainers.Building;

/// <summary>
/// Reads the base image from its registry: the manifest or index (Docker or OCI), the manifest
/// of the platform the runtime identifier needs, and its config.
/// </summary>
public static class BaseImageResolver
{
    private const long MaxConfigBytes = 4 << 20;

    public static async Task<ResolvedBaseImage> ResolveAsync(
        RegistryClient registry,
        ImageReference reference,
        string runtimeIdentifier,
        CancellationToken cancellationToken)
    {
        var wanted = Platform.FromRuntimeIdentifier(runtimeIdentifier)
            ?? throw new ZstdContainersException(
                ErrorCodes.PlatformNotInBaseImage,
                $"The runtime identifier '{runtimeIdentifier}' names no container platform ZstdContainers knows (linux-x64, linux-arm64, linux-arm, linux-musl-x64, …). Set {UserSetting.RuntimeIdentifier} to a Linux or Windows RID.");

        var top = await registry.GetManifestAsync(reference.Repository, reference.Reference, cancellationToken).ConfigureAwait(false);
        var manifestResponse = top;
        if (MediaTypes.IsIndex(top.MediaType))
        {
            var index = ImageDocument.Deserialize<ImageIndex>(top.Content, reference.ToString(), "index");
            var choice = index.Manifests.FirstOrDefault(m => m.Platform is { } p && wanted.IsSatisfiedBy(p) && MediaTypes.IsImageManifest(m.MediaType))
                ?? throw new ZstdContainersException(
                    ErrorCodes.PlatformNotInBaseImage,
                    $"The base image {reference} has no image for {wanted} (runtime identifier '{runtimeIdentifier}'). Its platforms: {string.Join(", ", index.Manifests.Where(m => m.Platform is not null).Select(m => m.Platform!.ToString()))}. Choose a runtime identifier it supports, or a base image ({UserSetting.BaseImage}) built for {wanted}.");
            manifestResponse = await registry.GetManifestAsync(reference.Repository, choice.Digest.Value, cancellationToken).ConfigureAwait(false);
        }
        if (!MediaTypes.IsImageManifest(manifestResponse.MediaType))
        {
            throw new ZstdContainersException(
                ErrorCodes.UnsupportedManifest,
                $"The base image {reference} has a manifest of type '{manifestResponse.MediaType}', which is neither an OCI nor a Docker v2 image manifest or index. Use an OCI or Docker v2 base image.");
        }

        var manifest = ImageDocument.Deserialize<ImageManifest>(manifestResponse.Content, reference.ToString(), "manifest");
        var configBytes = await registry.GetBlobAsync(reference.Repository, manifest.Config.Digest, MaxConfigBytes, cancellationToken).ConfigureAwait(false);
        var image = reference.ToString();
        var config = ImageDocument.ParseObject(configBytes, image, "config");
        var diffIds = ImageDocument.DiffIds(config, image);
        if (diffIds.Count != manifest.Layers.Count)
        {
            throw Invalid(reference, $"its manifest lists {manifest.Layers.Count} layers but its config {diffIds.Count} diff_ids");
        }
        var platform = ImageDocument.ConfigPlatform(config, image, fallback: wanted);
        return new ResolvedBaseImage(reference, manifestResponse.Digest, manifest, config, diffIds, platform);
    }

    private static ZstdContainersException Invalid(ImageReference reference, string why) =>
        new(ErrorCodes.UnsupportedManifest, $"The base image {reference} cannot be read: {why}. Check that {UserSetting.BaseImage} names a valid image.");
}
