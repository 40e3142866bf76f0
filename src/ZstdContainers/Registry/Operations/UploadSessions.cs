using System.Globalization;
using System.Net;
using ZstdContainers.Oci;

namespace ZstdContainers.Registry;

/// <summary>An upload session: where to send the bytes, and the smallest chunk the registry takes (OCI-Chunk-Min-Length).</summary>
internal sealed record UploadSession(Uri Location, long? ChunkMinLength);

/// <summary>The distribution spec's upload sessions: opening one, asking where it stands, and reading its answers.</summary>
internal sealed class UploadSessions(RegistryHttp http)
{
    private string Registry => http.Registry;

    /// <summary>POST …/blobs/uploads/ → 202 with the session's Location (and maybe OCI-Chunk-Min-Length).</summary>
    public async Task<UploadSession> StartAsync(string repository, IReadOnlyList<string> scopes, RequestAttempt attempt)
    {
        var request = new RegistryRequest(HttpMethod.Post, $"/v2/{repository}/blobs/uploads/", scopes) { Content = RegistryHttp.EmptyContent };
        using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
        await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);
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
        return new UploadSession(new Uri(request.SentTo!, response.Headers.Location), minimum);
    }

    /// <summary>GET the session: where to continue and how many bytes the registry has. Null when the session is gone.</summary>
    public async Task<(Uri Location, long Offset)?> StatusAsync(UploadSession session, IReadOnlyList<string> scopes, RequestAttempt attempt)
    {
        var request = new RegistryRequest(HttpMethod.Get, session.Location, scopes);
        using var response = await http.SendAsync(request, attempt).ConfigureAwait(false);
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        await http.EnsureSuccessAsync(response, request, attempt).ConfigureAwait(false);
        var end = RangeEnd(response);
        // "0-0" is how registries report an empty session (and, ambiguously, a 1-byte one): start at 0.
        var offset = end is null or 0 ? 0 : end.Value + 1;
        return (LocationOf(response, session.Location), offset);
    }

    public static Uri LocationOf(HttpResponseMessage response, Uri current) =>
        response.Headers.Location is { } location ? new Uri(current, location) : current;

    /// <summary>The end (exclusive) the registry confirms after a PATCH of [start, start+length).</summary>
    public static long ConfirmedEnd(HttpResponseMessage response, long start, long length)
    {
        var end = RangeEnd(response);
        if (end is null || (end == 0 && start == 0))
        {
            return start + length; // no Range, or the ambiguous "0-0" after a 1-byte first chunk
        }
        return end.Value + 1;
    }

    /// <summary>The inclusive end of a "Range: 0-N" (or "bytes=0-N") response header.</summary>
    public static long? RangeEnd(HttpResponseMessage response)
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

    public static Uri WithDigest(Uri location, Digest digest) =>
        new(location.AbsoluteUri + (string.IsNullOrEmpty(location.Query) ? "?" : "&") + "digest=" + Uri.EscapeDataString(digest.Value));

    public void CheckStoredDigest(HttpResponseMessage response, string repository, Digest digest)
    {
        if (response.Headers.NonValidated.TryGetValues("Docker-Content-Digest", out var values)
            && Digest.TryParse(values.FirstOrDefault(), out var stored) && stored != digest)
        {
            throw new ZstdContainersException(
                ErrorCodes.DigestMismatch,
                $"Registry '{Registry}' stored the blob uploaded as {digest} to '{repository}' under {stored}; the bytes sent do not match the digest.");
        }
    }
}
