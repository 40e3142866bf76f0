using System.Net;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>
/// Blob uploads: one request when the registry takes it, else chunks (<see cref="ChunkedUpload"/>); at most
/// MaxParallelUploads at once. Once the registry refuses a single-request upload, later ones go in chunks.
/// </summary>
internal sealed class BlobUploader(RegistryHttp http, UploadSessions sessions, ChunkedUpload chunks) : IDisposable
{
    private readonly SemaphoreSlim _uploadGate = new(Math.Max(1, http.Options.MaxParallelUploads));
    private volatile bool _chunkedRequired;

    private string Registry => http.Registry;

    /// <summary>
    /// Uploads a blob, streaming it from <paramref name="openContent"/> (called again when a retry needs the bytes
    /// anew). Monolithic (POST, then PUT ?digest= with the body) unless the registry wants chunks: it announces
    /// OCI-Chunk-Min-Length, or refuses the single PUT with 413/416; then PATCH chunks, resuming from the
    /// registry's Range after an interruption, or restarting the session when the registry lost it.
    /// At most MaxParallelUploads run at once.
    /// </summary>
    public async Task UploadBlobAsync(string repository, Digest digest, long size, Func<Stream> openContent, CancellationToken ct)
    {
        RegistryNames.ValidateRepository(repository);
        ArgumentOutOfRangeException.ThrowIfNegative(size);
        ArgumentNullException.ThrowIfNull(openContent);

        await _uploadGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            using var source = new UploadSource(openContent, size, digest);
            var scopes = http.Scopes(repository);
            var started = http.Time.GetTimestamp();
            string how;
            if (UseChunkedUploads())
            {
                how = await chunks.UploadAsync(repository, digest, size, source, scopes, session: null, ct).ConfigureAwait(false);
            }
            else
            {
                var outcome = await UploadMonolithicAsync(repository, digest, size, source, scopes, ct).ConfigureAwait(false);
                how = outcome.Done
                    ? "in one request"
                    : await chunks.UploadAsync(repository, digest, size, source, scopes, outcome.Session, ct).ConfigureAwait(false);
            }
            http.Log.Detail($"Registry '{Registry}': uploaded {digest} ({size} bytes) to '{repository}' {how} in {http.Time.GetElapsedTime(started).TotalSeconds:0.0} s.");
        }
        finally
        {
            _uploadGate.Release();
        }
    }

    private sealed record MonolithicOutcome(bool Done, UploadSession? Session);

    private bool UseChunkedUploads() => _chunkedRequired || http.Options.ForceChunkedUpload == true;

    private async Task<MonolithicOutcome> UploadMonolithicAsync(string repository, Digest digest, long size, UploadSource source, IReadOnlyList<string> scopes, CancellationToken ct)
    {
        Uri? abandoned = null;
        var interruptions = 0;
        return await http.ExecuteAsync(async attempt =>
        {
            if (abandoned is not null)
            {
                // Restart cleanly: a session that saw part of a body is not reused.
                await http.CancelUploadAsync(abandoned, scopes, attempt.Token).ConfigureAwait(false);
                abandoned = null;
            }
            var session = await sessions.StartAsync(repository, scopes, attempt).ConfigureAwait(false);
            if (session.ChunkMinLength is not null)
            {
                http.Log.Detail($"Registry '{Registry}' announces OCI-Chunk-Min-Length {session.ChunkMinLength}: uploading in chunks.");
                return new MonolithicOutcome(false, session);
            }
            if (interruptions >= 2 && size > chunks.ChunkSize(null))
            {
                // The connection keeps dropping under one long request: chunks can resume where it broke.
                http.Log.Detail($"Registry '{Registry}': the single-request upload of {digest} was interrupted {interruptions} times; switching to chunks.");
                return new MonolithicOutcome(false, session);
            }

            abandoned = session.Location;
            var request = new RegistryRequest(HttpMethod.Put, UploadSessions.WithDigest(session.Location, digest), scopes)
            {
                Content = () => source.CreateContent(0, size, attempt, withContentRange: false),
                RetriedByOperation = true,
            };
            HttpResponseMessage response;
            try
            {
                response = await http.SendAsync(request, attempt).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                interruptions++;
                throw;
            }
            using (response)
            {
                if (response.IsSuccessStatusCode)
                {
                    abandoned = null;
                    sessions.CheckStoredDigest(response, repository, digest);
                    return new MonolithicOutcome(true, null);
                }
                if (response.StatusCode is HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    http.Log.Detail($"Registry '{Registry}' refused a {size}-byte single-request upload ({RegistryErrors.Status(response.StatusCode)}): uploading in chunks from now on.");
                    _chunkedRequired = true;
                    await http.CancelUploadAsync(session.Location, scopes, attempt.Token).ConfigureAwait(false);
                    abandoned = null;
                    return new MonolithicOutcome(false, null);
                }
                throw await http.FailureAsync(response, request, attempt).ConfigureAwait(false);
            }
        }, ct).ConfigureAwait(false);
    }

    public void Dispose() => _uploadGate.Dispose();
}
