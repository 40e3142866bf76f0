using System.Collections;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>What a client is for: it decides which credential variables apply and the token scope.</summary>
public enum RegistryAccess
{
    /// <summary>Read manifests and blobs (the base image). Token scope <c>repository:NAME:pull</c>.</summary>
    Pull,

    /// <summary>Read and write (the destination). Token scope <c>repository:NAME:pull,push</c>.</summary>
    Push,

    /// <summary>
    /// Read the base image from the registry the image is pushed to: the SDK's PullFromOutput, where the output
    /// registry's credential variables apply too. Token scope <c>repository:NAME:pull</c>.
    /// </summary>
    PullFromOutput,
}

/// <summary>How the SDK decides which credentials a base image registry may get.</summary>
public static class RegistryAccesses
{
    /// <summary>PullFromOutput when the base image lives on the output registry (names compared ignoring case, as the SDK does), else Pull.</summary>
    public static RegistryAccess ForBaseImage(string baseRegistry, string? outputRegistry) =>
        !string.IsNullOrEmpty(outputRegistry) && string.Equals(baseRegistry, outputRegistry, StringComparison.OrdinalIgnoreCase)
            ? RegistryAccess.PullFromOutput
            : RegistryAccess.Pull;
}

/// <summary>A manifest or index as the registry returned it, with the digest of its exact bytes.</summary>
public sealed record ManifestResponse(byte[] Content, string MediaType, Digest Digest);

/// <summary>Settings of a <see cref="RegistryClient"/>. The defaults suit a build; tests shorten the delays.</summary>
public sealed record RegistryClientOptions
{
    /// <summary>Where requests, retries and the credential source are reported (Detail). Never receives a secret.</summary>
    public IBuildLog Log { get; init; } = NullBuildLog.Instance;

    /// <summary>
    /// The environment variables the client reads (credentials, insecure registries, PATH for credential
    /// helpers, HOME/DOCKER_CONFIG for docker's config.json). Default: a snapshot of the process environment.
    /// </summary>
    public IReadOnlyDictionary<string, string?> Environment { get; init; } = ProcessEnvironment();

    /// <summary>The handler requests go through; default a <see cref="SocketsHttpHandler"/> owned by the client.</summary>
    public HttpMessageHandler? InnerHandler { get; init; }

    /// <summary>How many times a failed request is tried again (so at most MaxRetries + 1 attempts).</summary>
    public int MaxRetries { get; init; } = 5;

    /// <summary>How long a failing request keeps being retried, counted from its first failure.</summary>
    public TimeSpan MaxRetryTime { get; init; } = TimeSpan.FromMinutes(2);

    /// <summary>The first retry delay; it doubles per retry (with jitter) up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan RetryBaseDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest computed backoff delay. A registry's Retry-After is honoured as given.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// How long a request may go without progress: until the response headers arrive, and between two
    /// reads or writes of a body. A 1 GB upload may take longer than this as long as bytes keep moving.
    /// </summary>
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(100);

    /// <summary>How many <see cref="RegistryClient.UploadBlobAsync"/> calls run at once; more calls wait.</summary>
    public int MaxParallelUploads { get; init; } = 3;

    /// <summary>
    /// Always upload in chunks (PATCH); chunks are also used when the registry asks for them.
    /// <see cref="FromSdkEnvironment"/> sets it from the SDK's DOTNET_CONTAINER_DEBUG_REGISTRY_FORCE_CHUNKED_UPLOAD.
    /// </summary>
    public bool? ForceChunkedUpload { get; init; }

    /// <summary>
    /// Chunk size for chunked uploads; null: 8 MiB. Never below the registry's OCI-Chunk-Min-Length.
    /// <see cref="FromSdkEnvironment"/> sets it from the SDK's DOTNET_CONTAINER_REGISTRY_CHUNKED_UPLOAD_SIZE_BYTES.
    /// </summary>
    public int? ChunkSize { get; init; }

    /// <summary>
    /// Options as the SDK configures its registry client: the environment snapshot (credentials, insecure
    /// registries, docker config) and the upload settings its variables give (DOTNET_ names first, then the
    /// older SDK_ ones). The one place the client's settings are read from variables.
    /// </summary>
    public static RegistryClientOptions FromSdkEnvironment(IBuildLog log, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var env = environment ?? ProcessEnvironment();
        bool Flag(string name) => env.TryGetValue(name, out var v) && v?.Trim().ToLowerInvariant() is "true" or "1" or "yes";
        int? Positive(string name) =>
            env.TryGetValue(name, out var v) && int.TryParse(v, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : null;
        return new RegistryClientOptions
        {
            Log = log,
            Environment = env,
            ForceChunkedUpload = Flag("DOTNET_CONTAINER_DEBUG_REGISTRY_FORCE_CHUNKED_UPLOAD") || Flag("SDK_CONTAINER_DEBUG_REGISTRY_FORCE_CHUNKED_UPLOAD"),
            ChunkSize = Positive("DOTNET_CONTAINER_REGISTRY_CHUNKED_UPLOAD_SIZE_BYTES") ?? Positive("SDK_CONTAINER_REGISTRY_CHUNKED_UPLOAD_SIZE_BYTES"),
        };
    }

    /// <summary>How long a docker-credential-* helper may take to answer.</summary>
    public TimeSpan CredentialHelperTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The clock for token expiry and the retry budget.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>Tests replace the retry sleep so they run instantly.</summary>
    internal Func<TimeSpan, CancellationToken, Task>? Delay { get; init; }

    /// <summary>A copy of the process environment, taken now.</summary>
    public static IReadOnlyDictionary<string, string?> ProcessEnvironment()
    {
        var result = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (DictionaryEntry entry in global::System.Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string key)
            {
                result[key] = entry.Value as string;
            }
        }
        return result;
    }
}
