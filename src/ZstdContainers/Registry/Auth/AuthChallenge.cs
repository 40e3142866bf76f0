using System.Text;

namespace ZstdContainers.Registry;

/// <summary>One challenge of a WWW-Authenticate header (RFC 7235): a scheme and its parameters.</summary>
internal sealed class AuthChallenge
{
    public AuthChallenge(string scheme, IReadOnlyDictionary<string, string> parameters)
    {
        Scheme = scheme;
        Parameters = parameters;
    }

    public string Scheme { get; }

    public IReadOnlyDictionary<string, string> Parameters { get; }

    public bool IsBearer => string.Equals(Scheme, "Bearer", StringComparison.OrdinalIgnoreCase);

    public bool IsBasic => string.Equals(Scheme, "Basic", StringComparison.OrdinalIgnoreCase);

    public string? Realm => Get("realm");

    public string? Service => Get("service");

    public string? Scope => Get("scope");

    public string? Error => Get("error");

    private string? Get(string name) => Parameters.TryGetValue(name, out var v) ? v : null;

    /// <summary>The challenge to answer from a response: Bearer (with a realm) before Basic; null if none is usable.</summary>
    public static AuthChallenge? FromResponse(HttpResponseMessage response) =>
        response.Headers.NonValidated.TryGetValues("WWW-Authenticate", out var values) ? Select(values) : null;

    public static AuthChallenge? Select(IEnumerable<string> headerValues)
    {
        var all = headerValues.SelectMany(ParseAll).ToList();
        return all.FirstOrDefault(c => c.IsBearer && !string.IsNullOrEmpty(c.Realm))
            ?? all.FirstOrDefault(c => c.IsBasic);
    }

    /// <summary>
    /// Parses a header value that may hold several challenges:
    /// <c>Bearer realm="https://a/token",service="a",scope="repository:x:pull,push", Basic realm="b"</c>.
    /// Quoted strings may contain commas and backslash escapes.
    /// </summary>
    public static IReadOnlyList<AuthChallenge> ParseAll(string header)
    {
        var result = new List<AuthChallenge>();
        string? scheme = null;
        Dictionary<string, string>? parameters = null;
        var i = 0;

        void Finish()
        {
            if (scheme is not null)
            {
                result.Add(new AuthChallenge(scheme, parameters!));
            }
        }

        while (i < header.Length)
        {
            SkipSeparators(header, ref i);
            if (i >= header.Length)
            {
                break;
            }
            var token = ReadToken(header, ref i);
            if (token.Length == 0)
            {
                i++; // an unexpected character (or a token68's '='): skip it rather than loop forever
                continue;
            }
            SkipSpaces(header, ref i);
            if (i < header.Length && header[i] == '=' && scheme is not null && !IsToken68Tail(header, i))
            {
                i++;
                SkipSpaces(header, ref i);
                var value = i < header.Length && header[i] == '"' ? ReadQuoted(header, ref i) : ReadToken(header, ref i);
                parameters![token.ToLowerInvariant()] = value;
            }
            else
            {
                Finish();
                scheme = token;
                parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
            }
        }
        Finish();
        return result;
    }

    // "abc==" followed by end or comma: '=' belongs to a token68, not to a parameter.
    private static bool IsToken68Tail(string s, int i)
    {
        var j = i;
        while (j < s.Length && s[j] == '=')
        {
            j++;
        }
        var equals = j - i;
        while (j < s.Length && s[j] == ' ')
        {
            j++;
        }
        return equals > 1 || j >= s.Length || s[j] == ',';
    }

    private static void SkipSpaces(string s, ref int i)
    {
        while (i < s.Length && (s[i] == ' ' || s[i] == '\t'))
        {
            i++;
        }
    }

    private static void SkipSeparators(string s, ref int i)
    {
        while (i < s.Length && (s[i] == ' ' || s[i] == '\t' || s[i] == ','))
        {
            i++;
        }
    }

    private static bool IsTokenChar(char c) =>
        char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~/:".Contains(c);

    private static string ReadToken(string s, ref int i)
    {
        var start = i;
        while (i < s.Length && IsTokenChar(s[i]))
        {
            i++;
        }
        return s[start..i];
    }

    private static string ReadQuoted(string s, ref int i)
    {
        var sb = new StringBuilder();
        i++; // opening quote
        while (i < s.Length && s[i] != '"')
        {
            if (s[i] == '\\' && i + 1 < s.Length)
            {
                i++;
            }
            sb.Append(s[i]);
            i++;
        }
        if (i < s.Length)
        {
            i++; // closing quote
        }
        return sb.ToString();
    }
}
