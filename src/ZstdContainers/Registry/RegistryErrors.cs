using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using System.Text.Json;

namespace ZstdContainers.Registry;

/// <summary>
/// A response worth another try (408, 429, 5xx). Thrown inside an attempt; the retry loop catches it and,
/// when it gives up, turns it into a coded <see cref="ZstdContainersException"/>.
/// </summary>
internal sealed class RetryableStatusException : Exception
{
    public RetryableStatusException(string request, HttpStatusCode status, string? detail, TimeSpan? retryAfter)
        : base($"{request} returned {RegistryErrors.Status(status)}{RegistryErrors.Suffix(detail)}")
    {
        Request = request;
        Status = status;
        Detail = detail;
        RetryAfter = retryAfter;
    }

    public string Request { get; }

    public HttpStatusCode Status { get; }

    public string? Detail { get; }

    public TimeSpan? RetryAfter { get; }
}

/// <summary>A body that ended early or was otherwise cut: worth another try, like a dropped connection.</summary>
internal sealed class TransferInterruptedException : IOException
{
    public TransferInterruptedException(string message)
        : base(message)
    {
    }
}

internal static class RegistryErrors
{
    public static string Status(HttpStatusCode status) => $"{(int)status} {ReasonPhrase(status)}";

    public static string Suffix(string? detail) => string.IsNullOrEmpty(detail) ? string.Empty : ": " + detail;

    /// <summary>An unsuccessful response's body (up to 16 KiB, none for HEAD) and its condensed description.</summary>
    public static async Task<(byte[] Body, string? Detail)> ReadErrorAsync(HttpMethod method, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        var body = method == HttpMethod.Head ? [] : await HttpBodies.ReadErrorBodyAsync(response, cancellationToken).ConfigureAwait(false);
        return (body, DescribeBody(body, response.Content.Headers.ContentType?.MediaType));
    }

    private static string ReasonPhrase(HttpStatusCode status) => status switch
    {
        HttpStatusCode.TooManyRequests => "Too Many Requests",
        HttpStatusCode.RequestEntityTooLarge => "Request Entity Too Large",
        HttpStatusCode.RequestedRangeNotSatisfiable => "Range Not Satisfiable",
        _ => SplitWords(status.ToString()),
    };

    private static string SplitWords(string name)
    {
        var sb = new StringBuilder();
        foreach (var c in name)
        {
            if (char.IsUpper(c) && sb.Length > 0)
            {
                sb.Append(' ');
            }
            sb.Append(c);
        }
        return sb.ToString();
    }

    /// <summary>
    /// The distribution-spec error body, condensed: "MANIFEST_UNKNOWN: manifest unknown". Other text bodies
    /// give their first line; HTML and binary give nothing. Never longer than 300 characters.
    /// </summary>
    public static string? DescribeBody(byte[] body, string? contentType)
    {
        if (body.Length == 0)
        {
            return null;
        }
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("errors", out var errors)
                && errors.ValueKind == JsonValueKind.Array)
            {
                var parts = new List<string>();
                foreach (var error in errors.EnumerateArray())
                {
                    if (error.ValueKind != JsonValueKind.Object)
                    {
                        continue;
                    }
                    var code = error.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String ? c.GetString() : null;
                    var message = error.TryGetProperty("message", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString() : null;
                    parts.Add(string.Join(": ", new[] { code, message }.Where(s => !string.IsNullOrEmpty(s))));
                }
                var joined = string.Join("; ", parts.Where(p => p.Length > 0));
                return joined.Length == 0 ? null : Truncate(joined);
            }
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("message", out var msg) && msg.ValueKind == JsonValueKind.String)
            {
                return Truncate(msg.GetString() ?? string.Empty);
            }
            return null;
        }
        catch (JsonException)
        {
        }
        if (contentType is not null && !contentType.StartsWith("text/plain", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        var text = Encoding.UTF8.GetString(body).Trim();
        if (text.Length == 0 || text.StartsWith('<') || text.Any(ch => char.IsControl(ch) && ch is not '\n' and not '\r' and not '\t'))
        {
            return null;
        }
        return Truncate(text.ReplaceLineEndings(" "));
    }

    /// <summary>The OCI error codes in a body (e.g. DIGEST_INVALID), for decisions.</summary>
    public static bool HasErrorCode(byte[] body, string code)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
            {
                return errors.EnumerateArray().Any(e =>
                    e.ValueKind == JsonValueKind.Object
                    && e.TryGetProperty("code", out var c) && c.ValueKind == JsonValueKind.String
                    && string.Equals(c.GetString(), code, StringComparison.OrdinalIgnoreCase));
            }
        }
        catch (JsonException)
        {
        }
        return false;
    }

    private static string Truncate(string s)
    {
        s = string.Join(' ', s.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries));
        return s.Length > 300 ? s[..300] + "…" : s;
    }

    public static bool IsTlsFailure(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is AuthenticationException)
            {
                return true;
            }
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.SecureConnectionError })
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>
    /// No connection was made at all (refused, no route, name not resolved), as opposed to a connection that
    /// broke during a request (reset, broken pipe, a body cut short).
    /// </summary>
    public static bool NeverConnected(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError or HttpRequestError.NameResolutionError })
            {
                return true;
            }
            if (e is SocketException { SocketErrorCode: SocketError.ConnectionRefused or SocketError.HostUnreachable or SocketError.NetworkUnreachable
                or SocketError.HostNotFound or SocketError.TryAgain or SocketError.NoData or SocketError.AddressNotAvailable })
            {
                return true;
            }
        }
        return false;
    }

    /// <summary>NXDOMAIN: the name does not exist, asking again will not help (unlike a DNS timeout).</summary>
    public static bool IsHostNotFound(Exception ex)
    {
        for (var e = ex; e is not null; e = e.InnerException)
        {
            if (e is SocketException { SocketErrorCode: SocketError.HostNotFound })
            {
                return true;
            }
        }
        return false;
    }

    private static string Clean(string message) =>
        message.Replace(", see inner exception", string.Empty, StringComparison.OrdinalIgnoreCase)
            .Replace(" See the inner exception for details", string.Empty, StringComparison.OrdinalIgnoreCase)
            .Trim().TrimEnd('.');

    /// <summary>A short reason from an exception chain: the outer message plus the innermost one when different.</summary>
    public static string Reason(Exception ex)
    {
        var inner = ex;
        while (inner.InnerException is not null)
        {
            inner = inner.InnerException;
        }
        var outer = Clean(ex.Message);
        var innermost = Clean(inner.Message);
        var text = ReferenceEquals(inner, ex) || outer.Contains(innermost, StringComparison.Ordinal) ? outer : outer + " (" + innermost + ")";
        return text.ReplaceLineEndings(" ");
    }
}
