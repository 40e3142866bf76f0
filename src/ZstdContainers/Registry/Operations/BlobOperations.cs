using System.Net;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>Blobs: small ones read whole (configs), layers streamed and resumed, HEAD and cross-repository mounts.</summary>
internal sealed class BlobOperations(RegistryHttp http)
{
    private string Registry => http.Registry;

    /// <summary>Reads a small blob (a config) into memory, at most <paramref name="maxBytes"/>, and checks its digest.</summary>
    public async Task<byte[]> GetBlobAsync(string repository, Digest digest, long maxBytes, CancellationToken ct)
    {
        RegistryNames.ValidateRepository(repository);
        var scopes = http.Scopes(repository);
        return await http.ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Get, $"/v2/{repository}/blobs/{digest}", scopes);
            using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
            await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);
            var content = await HttpBodies.ReadBoundedAsync(response.Content, maxBytes, attempt, size => new ZstdContainersException(
                ErrorCodes.RegistryError,
                $"Registry '{Registry}': blob {digest} in '{repository}' is {size} bytes or more, more than the {maxBytes} expected here.")).ConfigureAwait(false);
            var actual = Digest.Of(content);
            if (actual != digest)
            {
                throw DigestMismatch(repository, digest, actual);
            }
            return content;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Opens a blob for streaming (a layer); the caller hashes what it reads. Redirects to storage are followed
    /// without the registry's credentials; a connection lost mid-body is resumed with a Range request.
    /// </summary>
    public Task<Stream> OpenBlobAsync(string repository, Digest digest, CancellationToken ct) =>
        OpenBlobAsync(repository, digest, size: null, ct);

    /// <summary>
    /// Opens a blob whose descriptor gives its <paramref name="size"/>: a registry that announces or sends more
    /// fails with ZSTDC3012 at the first byte beyond it, so an endless stream cannot fill the disk.
    /// </summary>
    public async Task<Stream> OpenBlobAsync(string repository, Digest digest, long? size, CancellationToken ct)
    {
        RegistryNames.ValidateRepository(repository);
        if (size is < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size));
        }
        var download = new BlobDownload(this, http, repository, digest, size);
        var opened = await http.ExecuteAsync(attempt => download.OpenAsync(0, attempt), ct).ConfigureAwait(false);
        return new ResumableBlobStream(download, size, opened);
    }

    private ZstdContainersException DigestMismatch(string repository, Digest expected, Digest actual) => new(
        ErrorCodes.DigestMismatch,
        $"Registry '{Registry}': blob {expected} in '{repository}' arrived with digest {actual}. The registry or a proxy served different bytes; try again, and check the registry's storage if it persists.");

    private ZstdContainersException BlobTooLarge(string repository, Digest digest, long size, string how) => new(
        ErrorCodes.BlobLargerThanDescriptor,
        $"Registry '{Registry}': blob {digest} in '{repository}' {how}, but its descriptor says {size} bytes; the download was stopped there. " +
        "The registry or a proxy is serving wrong data; try again, and check the registry if it persists.");

    private async Task<OpenedBlob> OpenBlobResponseAsync(string repository, Digest digest, long offset, long? size, RequestAttempt attempt)
    {
        var request = new RegistryRequest(HttpMethod.Get, $"/v2/{repository}/blobs/{digest}", http.Scopes(repository))
        {
            Range = offset > 0 ? offset : null,
        };
        var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
        try
        {
            await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);
            var length = response.Content.Headers.ContentLength;
            if (offset > 0 && response.StatusCode == HttpStatusCode.PartialContent)
            {
                var range = response.Content.Headers.ContentRange;
                if (range?.From is { } from && from != offset)
                {
                    throw new TransferInterruptedException($"the registry resumed at byte {from} instead of {offset}");
                }
                var total = range?.Length ?? (length is { } l ? offset + l : null);
                if (total > size)
                {
                    throw BlobTooLarge(repository, digest, size!.Value, $"is announced as {total} bytes");
                }
                return new OpenedBlob(response, total, 0);
            }
            if (length > size)
            {
                throw BlobTooLarge(repository, digest, size!.Value, $"is announced as {length} bytes");
            }
            // 200: the whole blob again; the stream skips what it already delivered.
            return new OpenedBlob(response, length, offset);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>HEAD the blob: true when the repository has it.</summary>
    public async Task<bool> BlobExistsAsync(string repository, Digest digest, CancellationToken ct)
    {
        RegistryNames.ValidateRepository(repository);
        var scopes = http.Scopes(repository);
        return await http.ExecuteAsync(async attempt =>
        {
            var request = new RegistryRequest(HttpMethod.Head, $"/v2/{repository}/blobs/{digest}", scopes);
            using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
            if (response.StatusCode == HttpStatusCode.NotFound)
            {
                return false;
            }
            await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);
            return true;
        }, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Asks the registry to link a blob from another repository (POST ?mount=&amp;from=). True when mounted (201);
    /// false when the registry opened an upload instead (202; that session is cancelled) or the blob is not
    /// mountable for another reason (no access to the source, unknown blob, unsupported).
    /// </summary>
    public async Task<bool> TryMountBlobAsync(string repository, Digest digest, string fromRepository, CancellationToken ct)
    {
        RegistryNames.ValidateRepository(repository);
        RegistryNames.ValidateRepository(fromRepository);
        var scopes = http.Scopes(repository, fromRepository);
        try
        {
            return await http.ExecuteAsync(async attempt =>
            {
                var path = $"/v2/{repository}/blobs/uploads/?mount={Uri.EscapeDataString(digest.Value)}&from={Uri.EscapeDataString(fromRepository)}";
                var request = new RegistryRequest(HttpMethod.Post, path, scopes) { Content = RegistryHttp.EmptyContent };
                using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
                if (response.StatusCode == HttpStatusCode.Created)
                {
                    http.Log.Detail($"Registry '{Registry}': mounted {digest} from '{fromRepository}' into '{repository}'.");
                    return true;
                }
                if (response.StatusCode == HttpStatusCode.Accepted)
                {
                    if (response.Headers.Location is { } location)
                    {
                        await http.CancelUploadAsync(new Uri(request.SentTo!, location), scopes, attempt.Token).ConfigureAwait(false);
                    }
                    http.Log.Detail($"Registry '{Registry}': {digest} could not be mounted from '{fromRepository}'; it will be uploaded.");
                    return false;
                }
                if (RetryPolicy.IsRetryableStatus(response.StatusCode))
                {
                    await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);
                }
                var body = await HttpBodies.ReadErrorBodyAsync(response, attempt.Token).ConfigureAwait(false);
                http.Log.Detail($"Registry '{Registry}': mounting {digest} from '{fromRepository}' answered {RegistryErrors.Status(response.StatusCode)}" +
                    $"{RegistryErrors.Suffix(RegistryErrors.DescribeBody(body, response.Content.Headers.ContentType?.MediaType))}; it will be uploaded.");
                return false;
            }, ct).ConfigureAwait(false);
        }
        catch (ZstdContainersException ex) when (ex.Code is ErrorCodes.AuthenticationFailed)
        {
            http.Log.Detail($"Registry '{Registry}': no access for mounting {digest} from '{fromRepository}'; it will be uploaded.");
            return false;
        }
    }

    /// <summary>
    /// One blob being downloaded, for <see cref="ResumableBlobStream"/>: opens it again from a byte after the
    /// connection broke, within the client's retry limits, and words what went wrong.
    /// </summary>
    private sealed class BlobDownload(BlobOperations blobs, RegistryHttp http, string repository, Digest digest, long? size) : IBlobReopener
    {
        public TimeSpan StallTimeout => http.Retry.RequestTimeout;

        public Task<OpenedBlob> OpenAsync(long offset, RequestAttempt attempt) => blobs.OpenBlobResponseAsync(repository, digest, offset, size, attempt);

        public async Task<OpenedBlob> ReopenAsync(long position, Exception error, int failures, CancellationToken ct)
        {
            var request = $"GET /v2/{repository}/blobs/{digest}";
            if (RegistryErrors.IsTlsFailure(error))
            {
                throw new ZstdContainersException(ErrorCodes.TlsFailure, $"The TLS connection to registry '{http.Registry}' failed while reading {request}: {RegistryErrors.Reason(error)}.", error);
            }
            var retry = http.Retry;
            if (failures > retry.MaxRetries)
            {
                throw retry.Failures.Unreachable(request, error, failures);
            }
            var reason = error is OperationCanceledException ? $"no data for {retry.RequestTimeout.TotalSeconds:0} s" : RegistryErrors.Reason(error);
            http.Log.Detail($"Registry '{http.Registry}': download of {digest} interrupted at byte {position} ({reason}); resuming, retry {failures} of {retry.MaxRetries}.");
            await retry.DelayAsync(retry.NextRetryDelay(failures), ct).ConfigureAwait(false);
            return await http.ExecuteAsync(attempt => OpenAsync(position, attempt), ct).ConfigureAwait(false);
        }

        public ZstdContainersException PastLimit(long limit) => blobs.BlobTooLarge(repository, digest, limit, $"went on past byte {limit}");
    }
}
