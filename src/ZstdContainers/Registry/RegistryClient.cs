using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>
/// A client for one registry speaking the OCI distribution spec: manifests, blobs, cross-repository mounts and
/// uploads, with the SDK's credential sources, token auth, retries with backoff, and coded errors. One client
/// may serve several concurrent calls (the pipeline uploads layers in parallel through it).
/// </summary>
/// <remarks>
/// A facade: the HTTP concerns are the handlers of <see cref="RegistryHttpPipeline"/>, and the operations
/// (<see cref="ManifestOperations"/>, <see cref="BlobOperations"/>, <see cref="BlobUploader"/>) are small classes
/// over it, sharing one <see cref="RegistryHttp"/>.
/// </remarks>
public sealed class RegistryClient : IDisposable
{
    private readonly RegistryEndpoint _endpoint;
    private readonly RegistryHttp _http;
    private readonly ManifestOperations _manifests;
    private readonly BlobOperations _blobs;
    private readonly BlobUploader _uploads;

    public RegistryClient(string registry, RegistryAccess access, RegistryClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _endpoint = RegistryEndpoint.Create(registry, options.Environment);
        _http = new RegistryHttp(_endpoint, access, options);
        _manifests = new ManifestOperations(_http);
        _blobs = new BlobOperations(_http);
        var sessions = new UploadSessions(_http);
        _uploads = new BlobUploader(_http, sessions, new ChunkedUpload(_http, sessions));
    }

    /// <summary>The registry name as given ("host[:port]").</summary>
    public string Registry => _endpoint.Registry;

    /// <summary>
    /// True for localhost/loopback registries and those listed in DOTNET_CONTAINER_INSECURE_REGISTRIES: spoken to
    /// over plain HTTP (should such a registry answer only on HTTPS, its certificate is not checked, as docker does).
    /// </summary>
    public bool IsInsecure => _endpoint.IsInsecure;

    /// <inheritdoc cref="ManifestOperations.GetManifestAsync"/>
    public Task<ManifestResponse> GetManifestAsync(string repository, string reference, CancellationToken ct) =>
        _manifests.GetManifestAsync(repository, reference, ct);

    /// <inheritdoc cref="ManifestOperations.PutManifestAsync"/>
    public Task<Digest> PutManifestAsync(string repository, string reference, byte[] content, string mediaType, CancellationToken ct) =>
        _manifests.PutManifestAsync(repository, reference, content, mediaType, ct);

    /// <inheritdoc cref="BlobOperations.GetBlobAsync"/>
    public Task<byte[]> GetBlobAsync(string repository, Digest digest, long maxBytes, CancellationToken ct) =>
        _blobs.GetBlobAsync(repository, digest, maxBytes, ct);

    /// <inheritdoc cref="BlobOperations.OpenBlobAsync(string, Digest, CancellationToken)"/>
    public Task<Stream> OpenBlobAsync(string repository, Digest digest, CancellationToken ct) =>
        _blobs.OpenBlobAsync(repository, digest, ct);

    /// <inheritdoc cref="BlobOperations.OpenBlobAsync(string, Digest, long?, CancellationToken)"/>
    public Task<Stream> OpenBlobAsync(string repository, Digest digest, long? size, CancellationToken ct) =>
        _blobs.OpenBlobAsync(repository, digest, size, ct);

    /// <inheritdoc cref="BlobOperations.BlobExistsAsync"/>
    public Task<bool> BlobExistsAsync(string repository, Digest digest, CancellationToken ct) =>
        _blobs.BlobExistsAsync(repository, digest, ct);

    /// <inheritdoc cref="BlobOperations.TryMountBlobAsync"/>
    public Task<bool> TryMountBlobAsync(string repository, Digest digest, string fromRepository, CancellationToken ct) =>
        _blobs.TryMountBlobAsync(repository, digest, fromRepository, ct);

    /// <inheritdoc cref="BlobUploader.UploadBlobAsync"/>
    public Task UploadBlobAsync(string repository, Digest digest, long size, Func<Stream> openContent, CancellationToken ct) =>
        _uploads.UploadBlobAsync(repository, digest, size, openContent, ct);

    public void Dispose()
    {
        _http.Dispose();
        _uploads.Dispose();
    }
}
