using System.Globalization;
using System.Text.Json;

namespace ZstdContainers.Registry;

/// <summary>A token service's JSON answer: the token ("token" or "access_token") and how long it is valid.</summary>
internal static class TokenAnswer
{
    private static readonly TimeSpan DefaultLifetime = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(1);

    /// <summary>
    /// Never throws on what a token service sends: a token that is not a string is no token (null), a lifetime
    /// that is missing, not a number, not positive or absurd (1e12 s overflows a TimeSpan) is 60 s or at most a day
    /// (a build needs no more; a token refused earlier is fetched again anyway).
    /// </summary>
    public static (string? Token, TimeSpan Lifetime) Parse(byte[] json)
    {
        try
        {
            using var doc = JsonDocument.Parse(json);
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return (null, DefaultLifetime);
            }
            var token = ReadString(root, "token") ?? ReadString(root, "access_token");
            return (token, root.TryGetProperty("expires_in", out var expiresIn) ? Lifetime(expiresIn) : DefaultLifetime);
        }
        catch (JsonException)
        {
            return (null, DefaultLifetime);
        }
    }

    private static TimeSpan Lifetime(JsonElement value)
    {
        double seconds = 0;
        if (value.ValueKind == JsonValueKind.Number && value.TryGetDouble(out var number))
        {
            seconds = number;
        }
        else if (value.ValueKind == JsonValueKind.String)
        {
            double.TryParse(value.GetString(), NumberStyles.Float, CultureInfo.InvariantCulture, out seconds);
        }
        return double.IsFinite(seconds) && seconds > 0 ? TimeSpan.FromSeconds(Math.Min(seconds, MaxLifetime.TotalSeconds)) : DefaultLifetime;
    }

    private static string? ReadString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
}
