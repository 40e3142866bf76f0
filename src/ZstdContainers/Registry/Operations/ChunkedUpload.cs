using System.Net;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>
/// A chunked upload (PATCH after PATCH, then PUT ?digest=): resumes from the registry's Range after an
/// interruption, shrinks chunks the registry finds too large, and starts a new session when the registry lost it.
/// </summary>
internal sealed class ChunkedUpload(RegistryHttp http, UploadSessions sessions)
{
    private const long DefaultChunkSize = 8L << 20;
    private const long SmallestChunk = 64L << 10;
    private const long EcrMinimumChunk = 5L << 20;

    private string Registry => http.Registry;

    private sealed class ChunkState
    {
        public UploadSession? Session;
        public long Offset;
        public long ChunkSize;
        public bool AskRegistry;
        public int Chunks;
        public int Conflicts;
    }

    public async Task<string> UploadAsync(string repository, Digest digest, long size, UploadSource source, IReadOnlyList<string> scopes, UploadSession? session, CancellationToken ct)
    {
        var state = new ChunkState { Session = session, ChunkSize = ChunkSize(session?.ChunkMinLength) };
        await http.ExecuteAsync(async attempt =>
        {
            if (state.Session is not null && state.AskRegistry)
            {
                // Interrupted: continue from what the registry has, or start over if it lost the session.
                var status = await sessions.StatusAsync(state.Session, scopes, attempt).ConfigureAwait(false);
                if (status is null)
                {
                    http.Log.Detail($"Registry '{Registry}': the upload session for {digest} is gone; starting a new one.");
                    state.Session = null;
                }
                else
                {
                    http.Log.Detail($"Registry '{Registry}': resuming {digest} at byte {status.Value.Offset} of {size}.");
                    state.Session = state.Session with { Location = status.Value.Location };
                    state.Offset = status.Value.Offset;
                }
            }
            if (state.Session is null)
            {
                state.Session = await sessions.StartAsync(repository, scopes, attempt).ConfigureAwait(false);
                state.Offset = 0;
                state.ChunkSize = ChunkSize(state.Session.ChunkMinLength);
            }
            state.AskRegistry = true;

            while (state.Offset < size)
            {
                var start = state.Offset;
                var length = Math.Min(state.ChunkSize, size - start);
                var request = new RegistryRequest(new HttpMethod("PATCH"), state.Session.Location, scopes)
                {
                    Content = () => source.CreateContent(start, length, attempt, withContentRange: true),
                    RetriedByOperation = true,
                };
                using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
                if (response.IsSuccessStatusCode)
                {
                    state.Chunks++;
                    state.Session = state.Session with { Location = UploadSessions.LocationOf(response, state.Session.Location) };
                    var confirmed = UploadSessions.ConfirmedEnd(response, start, length);
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
                        throw await http.FailureAsync(response, request, attempt).ConfigureAwait(false);
                    }
                    http.Log.Detail($"Registry '{Registry}' refused a {length}-byte chunk (413); trying {smaller}-byte chunks.");
                    state.ChunkSize = smaller;
                    continue;
                }
                if (response.StatusCode == HttpStatusCode.RequestedRangeNotSatisfiable)
                {
                    // We and the registry disagree on how much it has: ask it, then continue from there.
                    if (++state.Conflicts > 3)
                    {
                        throw await http.FailureAsync(response, request, attempt).ConfigureAwait(false);
                    }
                    var status = await sessions.StatusAsync(state.Session, scopes, attempt).ConfigureAwait(false);
                    if (status is null)
                    {
                        state.Session = await sessions.StartAsync(repository, scopes, attempt).ConfigureAwait(false);
                        state.Offset = 0;
                    }
                    else
                    {
                        state.Session = state.Session with { Location = status.Value.Location };
                        state.Offset = status.Value.Offset;
                    }
                    continue;
                }
                throw await http.FailureAsync(response, request, attempt).ConfigureAwait(false);
            }

            var close = new RegistryRequest(HttpMethod.Put, UploadSessions.WithDigest(state.Session.Location, digest), scopes)
            {
                Content = RegistryHttp.EmptyContent,
                RetriedByOperation = true,
            };
            using var closed = await http.SendAsync(close, attempt).ConfigureAwait(false);
            await http.EnsureSuccessAsync(closed, close, attempt).ConfigureAwait(false);
            sessions.CheckStoredDigest(closed, repository, digest);
            return true;
        }, ct).ConfigureAwait(false);
        return state.Chunks == 1 ? "in 1 chunk" : $"in {state.Chunks} chunks";
    }

    /// <summary>
    /// The chunk size: the options' ChunkSize, else 8 MiB; at least the registry's OCI-Chunk-Min-Length, and
    /// 5 MiB on ECR (its minimum for all but the last).
    /// </summary>
    public long ChunkSize(long? registryMinimum)
    {
        long size = http.Options.ChunkSize ?? DefaultChunkSize;
        if (size <= 0)
        {
            size = DefaultChunkSize;
        }
        if (http.Endpoint.Host.EndsWith(".amazonaws.com", StringComparison.OrdinalIgnoreCase))
        {
            size = Math.Max(size, EcrMinimumChunk);
        }
        return registryMinimum is { } min ? Math.Max(size, min) : size;
    }
}
