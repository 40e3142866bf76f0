using System.Globalization;
using System.Net;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

public sealed partial class RegistryClient
{
    private const long DefaultChunkSize = 8L << 20;
    private const long SmallestChunk = 64L << 10;
    private const long EcrMinimumChunk = 5L << 20;

    private volatile bool _chunkedRequired;

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
            var scopes = Scopes(repository);
            var started = _time.GetTimestamp();
            string how;
            if (UseChunkedUploads())
            {
                how = await UploadChunkedAsync(repository, digest, size, source, scopes, session: null, ct).ConfigureAwait(false);
            }
            else
            {
                var outcome = await UploadMonolithicAsync(repository, digest, size, source, scopes, ct).ConfigureAwait(false);
                how = outcome.Done
                    ? "in one request"
                    : await UploadChunkedAsync(repository, digest, size, source, scopes, outcome.Session, ct).ConfigureAwait(false);
            }
            _log.Detail($"Registry '{Registry}': uploaded {digest} ({size} bytes) to '{repository}' {how} in {_time.GetElapsedTime(started).TotalSeconds:0.0} s.");
        }
        finally
        {
            _uploadGate.Release();
        }
    }

    private sealed record UploadSession(Uri Location, long? ChunkMinLength);

    private sealed record MonolithicOutcome(bool Done, UploadSession? Session);

    private bool UseChunkedUploads() => _chunkedRequired || _options.ForceChunkedUpload == true;

    private async Task<MonolithicOutcome> UploadMonolithicAsync(string repository, Digest digest, long size, UploadSource source, IReadOnlyList<string> scopes, CancellationToken ct)
    {
        Uri? abandoned = null;
        var interruptions = 0;
        return await ExecuteAsync(async attempt =>
        {
            if (abandoned is not null)
            {
                // Restart cleanly: a session that saw part of a body is not reused.
                await CancelUploadAsync(abandoned, scopes, attempt.Token).ConfigureAwait(false);
                abandoned = null;
            }
            var session = await StartUploadAsync(repository, scopes, attempt).ConfigureAwait(false);
            if (session.ChunkMinLength is not null)
            {
                _log.Detail($"Registry '{Registry}' announces OCI-Chunk-Min-Length {session.ChunkMinLength}: uploading in chunks.");
                return new MonolithicOutcome(false, session);
            }
            if (interruptions >= 2 && size > EffectiveChunkSize(null))
            {
                // The connection keeps dropping under one long request: chunks can resume where it broke.
                _log.Detail($"Registry '{Registry}': the single-request upload of {digest} was interrupted {interruptions} times; switching to chunks.");
                return new MonolithicOutcome(false, session);
            }

            abandoned = session.Location;
            var request = new RegistryRequest(HttpMethod.Put, WithDigest(session.Location, digest), scopes)
            {
                Content = () => source.CreateContent(0, size, attempt, withContentRange: false),
            };
            HttpResponseMessage response;
            try
            {
                response = await SendAsync(request, attempt).ConfigureAwait(false);
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
                    CheckStoredDigest(response, repository, digest);
                    return new MonolithicOutcome(true, null);
                }
                if (response.StatusCode is HttpStatusCode.RequestEntityTooLarge or HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    _log.Detail($"Registry '{Registry}' refused a {size}-byte single-request upload ({RegistryErrors.Status(response.StatusCode)}): uploading in chunks from now on.");
                    _chunkedRequired = true;
                    await CancelUploadAsync(session.Location, scopes, attempt.Token).ConfigureAwait(false);
                    abandoned = null;
                    return new MonolithicOutcome(false, null);
                }
                throw await FailureAsync(response, attempt).ConfigureAwait(false);
            }
        }, ct).ConfigureAwait(false);
    }

    private sealed class ChunkState
    {
        public UploadSession? Session;
        public long Offset;
        public long ChunkSize;
        public bool AskRegistry;
        public int Chunks;
        public int Conflicts;
    }

    private async Task<string> UploadChunkedAsync(string repository, Digest digest, long size, UploadSource source, IReadOnlyList<string> scopes, UploadSession? session, CancellationToken ct)
    {
        var state = new ChunkState { Session = session, ChunkSize = EffectiveChunkSize(session?.ChunkMinLength) };
        await ExecuteAsync(async attempt =>
        {
            if (state.Session is not null && state.AskRegistry)
            {
                // Interrupted: continue from what the registry has, or start over if it lost the session.
                var status = await GetUploadStatusAsync(state.Session, scopes, attempt).ConfigureAwait(false);
                if (status is null)
                {
                    _log.Detail($"Registry '{Registry}': the upload session for {digest} is gone; starting a new one.");
                    state.Session = null;
                }
                else
                {
                    _log.Detail($"Registry '{Registry}': resuming {digest} at byte {status.Value.Offset} of {size}.");
                    state.Session = state.Session with { Location = status.Value.Location };
                    state.Offset = status.Value.Offset;
                }
            }
            if (state.Session is null)
            {
                state.Session = await StartUploadAsync(repository, scopes, attempt).ConfigureAwait(false);
                state.Offset = 0;
                state.ChunkSize = EffectiveChunkSize(state.Session.ChunkMinLength);
            }
            state.AskRegistry = true;

            while (state.Offset < size)
            {
                var start = state.Offset;
                var length = Math.Min(state.ChunkSize, size - start);
                var request = new RegistryRequest(new HttpMethod("PATCH"), state.Session.Location, scopes)
                {
                    Content = () => source.CreateContent(start, length, attempt, withContentRange: true),
                };
                using var response = await SendAsync(request, attempt).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    state.Chunks++;
                    state.Session = state.Session with { Location = LocationOf(response, state.Session.Location) };
                    var confirmed = ConfirmedEnd(response, start, length);
                    if (confirmed <= start)
                    {
                        if (++state.Conflicts > 3)
                        {
                            throw new ZstdContainersException(ErrorCodes.RegistryError, $"Registry '{Registry}': {attempt.Request} accepted a chunk of {digest} but does not report any progress.");
                        }
                    }
                    else
                    {
                        attempt.ReportProgress();
                    }
                    state.Offset = Math.Min(confirmed, start + length);
                    continue;
                }
                if (response.StatusCode == HttpStatusCode.RequestEntityTooLarge)
                {
                    var smaller = Math.Max(Math.Max(state.Session.ChunkMinLength ?? 0, SmallestChunk), state.ChunkSize / 2);
                    if (smaller >= state.ChunkSize || length <= smaller)
                    {
                        throw await FailureAsync(response, attempt).ConfigureAwait(false);
                    }
                    _log.Detail($"Registry '{Registry}' refused a {length}-byte chunk (413); trying {smaller}-byte chunks.");
                    state.ChunkSize = smaller;
                    continue;
                }
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    // We and the registry disagree on how much it has: ask it, then continue from there.
                    if (++state.Conflicts > 3)
                    {
                        throw await FailureAsync(response, attempt).ConfigureAwait(false);
                    }
                    var status = await GetUploadStatusAsync(state.Session, scopes, attempt).ConfigureAwait(false);
                    if (status is null)
                    {
                        state.Session = await StartUploadAsync(repository, scopes, attempt).ConfigureAwait(false);
                        state.Offset = 0;
                    }
                    else
                    {
                        state.Session = state.Session with { Location = status.Value.Location };
                        state.Offset = status.Value.Offset;
                    }
                    continue;
                }
                throw await FailureAsync(response, attempt).ConfigureAwait(false);
            }

            var close = new RegistryRequest(HttpMethod.Put, WithDigest(state.Session.Location, digest), scopes) { Content = EmptyContent };
            using var closed = await SendAsync(close, attempt).ConfigureAwait(false);
            await EnsureSuccessAsync(closed, attempt).ConfigureAwait(false);
            CheckStoredDigest(closed, repository, digest);
            return true;
        }, ct).ConfigureAwait(false);
        return state.Chunks == 1 ? "in 1 chunk" : $"in {state.Chunks} chunks";
    }

    /// <summary>POST …/blobs/uploads/ → 202 with the session's Location (and maybe OCI-Chunk-Min-Length).</summary>
    private async Task<UploadSession> StartUploadAsync(string repository, IReadOnlyList<string> scopes, RequestAttempt attempt)
    {
        var uri = await ApiUriAsync($"/v2/{repository}/blobs/uploads/", attempt).ConfigureAwait(false);
        using var response = await SendAsync(new RegistryRequest(HttpMethod.Post, uri, scopes) { Content = EmptyContent }, attempt).ConfigureAwait(false);
        await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Accepted || response.Headers.Location is null)
        {
            throw new ZstdContainersException(
                ErrorCodes.RegistryError,
                $"Registry '{Registry}': {attempt.Request} answered {RegistryErrors.Status(response.StatusCode)} {(response.Headers.Location is null ? "without a Location" : string.Empty)}, not 202 with an upload location.");
        }
        long? minimum = null;
        if (response.Headers.NonValidated.TryGetValues("OCI-Chunk-Min-Length", out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var min) && min > 0)
        {
            minimum = min;
        }
        return new UploadSession(new Uri(uri, response.Headers.Location), minimum);
    }

    /// <summary>GET the session: where to continue and how many bytes the registry has. Null when the session is gone.</summary>
    private async Task<(Uri Location, long Offset)?> GetUploadStatusAsync(UploadSession session, IReadOnlyList<string> scopes, RequestAttempt attempt)
    {
        using var response = await SendAsync(new RegistryRequest(HttpMethod.Get, session.Location, scopes), attempt).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        await EnsureSuccessAsync(response, attempt).ConfigureAwait(false);
        var end = RangeEnd(response);
        // "0-0" is how registries report an empty session (and, ambiguously, a 1-byte one): start at 0.
        var offset = end is null or 0 ? 0 : end.Value + 1;
        return (LocationOf(response, session.Location), offset);
    }

    private static Uri LocationOf(HttpResponseMessage response, Uri current) =>
        response.Headers.Location is { } location ? new Uri(current, location) : current;

    /// <summary>The end (exclusive) the registry confirms after a PATCH of [start, start+length).</summary>
    private static long ConfirmedEnd(HttpResponseMessage response, long start, long length)
    {
        var end = RangeEnd(response);
        if (end is null || (end == 0 && start == 0))
        {
            return start + length; // no Range, or the ambiguous "0-0" after a 1-byte first chunk
        }
        return end.Value + 1;
    }

    /// <summary>The inclusive end of a "Range: 0-N" (or "bytes=0-N") response header.</summary>
    internal static long? RangeEnd(HttpResponseMessage response)
    {
        if (!response.Headers.NonValidated.TryGetValues("Range", out var values))
        {
            return null;
        }
        var text = values.FirstOrDefault()?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        if (text.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase))
        {
            text = text["bytes=".Length..];
        }
        var dash = text.IndexOf('-');
        return dash > 0 && long.TryParse(text[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var end) ? end : null;
    }

    private static Uri WithDigest(Uri location, Digest digest) =>
        new(location.AbsoluteUri + (string.IsNullOrEmpty(location.Query) ? "?" : "&") + "digest=" + Uri.EscapeDataString(digest.Value));

    private void CheckStoredDigest(HttpResponseMessage response, string repository, Digest digest)
    {
        if (response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var values)
            && Digest.TryParse(values.FirstOrDefault(), out var stored) && stored != digest)
        {
            throw new ZstdContainersException(
                ErrorCodes.DigestMismatch,
                $"Registry '{Registry}' stored the blob uploaded as {digest} to '{repository}' under {stored}; the bytes sent do not match the digest.");
        }
    }

    /// <summary>
    /// The chunk size: the options' ChunkSize, else 8 MiB; at least the registry's OCI-Chunk-Min-Length, and
    /// 5 MiB on ECR (its minimum for all but the last).
    /// </summary>
    private long EffectiveChunkSize(long? registryMinimum)
    {
        long size = _options.ChunkSize ?? DefaultChunkSize;
        if (size <= 0)
        {
            size = DefaultChunkSize;
        }
        if (_endpoint.Host.EndsWith(".amazonaws.com", StringComparison.OrdinalIgnoreCase))
        {
            size = Math.Max(size, EcrMinimumChunk);
        }
        return registryMinimum is { } min ? Math.Max(size, min) : size;
    }
}
