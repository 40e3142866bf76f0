using System.Net;
using System.Net.Http.Headers;
using System.Text;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>Manifests and indexes: read by tag or digest (checked against the bytes), written under a tag.</summary>
internal sealed class ManifestOperations(RegistryHttp http)
{
    private const long MaxManifestBytes = 16L << 20;

    private static readonly string[] ManifestMediaTypes =
        [MediaTypes.OciManifest, MediaTypes.OciIndex, MediaTypes.DockerManifest, MediaTypes.DockerManifestList];

    private string Registry => http.Registry;

    /// <summary>
    /// Reads a manifest or index by tag or digest. The digest returned is over the exact bytes; when the
    /// reference is a digest, the bytes must match it. A missing image is ZSTDC2001 naming registry/repo:ref.
    /// </summary>
    public async Task<ManifestResponse> GetManifestAsync(string repository, string reference, CancellationToken ct)
    {
        RegistryNames.ValidateRepository(repository);
        var expected = RegistryNames.ValidateReference(reference);
        var scopes = http.Scopes(repository);
        var display = $"{Registry}/{repository}{(expected is null ? ":" : "@")}{reference}";

        return await http.ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Get, $"/v2/{repository}/manifests/{reference}", scopes)
            {
                Accept = ManifestMediaTypes,
            };
            using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                var body = await HttpBodies.ReadErrorBodyAsync(response, attempt.Token).ConfigureAwait(false);
                var detail = RegistryErrors.DescribeBody(body, response.Content.Headers.ContentType?.MediaType);
                throw new ZstdContainersException(
                    ErrorCodes.BaseImageNotFound,
                    $"The image '{display}' was not found: the registry answered 404{RegistryErrors.Suffix(detail)}. " +
                    $"Check the registry, repository and tag ({UserSetting.BaseImage}, or {UserSetting.Registry}/{UserSetting.Repository}), and that the tag exists.");
            }
            await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);

            var content = await HttpBodies.ReadBoundedAsync(response.Content, MaxManifestBytes, attempt, size => new ZstdContainersException(
                ErrorCodes.RegistryError,
                $"Registry '{Registry}': the manifest of '{display}' is {size} bytes, larger than the {MaxManifestBytes >> 20} MiB a manifest may be.")).ConfigureAwait(false);

            var digest = Digest.Of(content);
            if (expected is { } want && want != digest)
            {
                throw new ZstdContainersException(
                    ErrorCodes.DigestMismatch,
                    $"Registry '{Registry}' returned a manifest for '{display}' whose digest is {digest}. The content does not match the digest asked for; the registry or a proxy is serving wrong data.");
            }
            if (response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var headerValues)
                && Digest.TryParse(headerValues.FirstOrDefault(), out var announced) && announced != digest)
            {
                http.Log.Detail($"Registry '{Registry}': Docker-Content-Digest {announced} differs from the digest of the bytes received ({digest}) for '{display}'; using the latter.");
            }

            var mediaType = ManifestMediaType(response.Content.Headers.ContentType?.MediaType, content);
            return new ManifestResponse(content, mediaType, digest);
        }, ct).ConfigureAwait(false);
    }

    /// <summary>Uploads a manifest or index under a tag (or its digest) with Content-Type = mediaType; returns its digest.</summary>
    public async Task<Digest> PutManifestAsync(string repository, string reference, byte[] content, string mediaType, CancellationToken ct)
    {
        RegistryNames.ValidateRepository(repository);
        var expected = RegistryNames.ValidateReference(reference);
        ArgumentNullException.ThrowIfNull(content);
        ArgumentException.ThrowIfNullOrEmpty(mediaType);
        var digest = Digest.Of(content);
        if (expected is { } want && want != digest)
        {
            throw new ArgumentException($"The manifest's digest is {digest}, not the {want} it is to be stored under.", nameof(reference));
        }
        var scopes = http.Scopes(repository);

        return await http.ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Put, $"/v2/{repository}/manifests/{reference}", scopes)
            {
                Content = () =>
                {
                    var body = new ByteArrayContent(content);
                    body.Headers.ContentType = new MediaTypeHeaderValue(mediaType);
                    return body;
                },
            };
            using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
            await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);
            if (response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var values)
                && Digest.TryParse(values.FirstOrDefault(), out var stored) && stored != digest)
            {
                throw new ZstdContainersException(
                    ErrorCodes.DigestMismatch,
                    $"Registry '{Registry}' stored the manifest for '{repository}:{reference}' as {stored}, but its bytes hash to {digest}; the registry altered it.");
            }
            http.Log.Detail($"Registry '{Registry}': pushed manifest {digest} ({content.Length} bytes, {mediaType}) as '{repository}:{reference}'.");
            return digest;
        }, ct).ConfigureAwait(false);
    }

    private static string ManifestMediaType(string? contentType, byte[] content)
    {
        if (!string.IsNullOrEmpty(contentType) && !contentType.Equals("application/json", StringComparison.OrdinalIgnoreCase)
            && !contentType.Equals("text/plain", StringComparison.OrdinalIgnoreCase))
        {
            return contentType;
        }
        try
        {
            if (OciJson.PeekMediaType(content) is { Length: > 0 } fromDocument)
            {
                return fromDocument;
            }
            // No mediaType anywhere (allowed by image-spec): an index has "manifests".
            return Encoding.UTF8.GetString(content).Contains("\"manifests\"", StringComparison.Ordinal) ? MediaTypes.OciIndex : MediaTypes.OciManifest;
        }
        catch (System.Text.Json.JsonException)
        {
            throw new ZstdContainersException(ErrorCodes.UnsupportedManifest, "The registry returned a manifest that is not JSON.");
        }
    }
}
