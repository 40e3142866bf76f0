using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// An htpasswd line for Distribution's htpasswd auth, which accepts bcrypt only. `htpasswd -nbB` (Debian's
/// apache2-utils) when it is installed; otherwise crypt(3) from libcrypt.so.1 (libxcrypt, part of every Debian
/// system), which computes bcrypt for a "$2b$" salt.
/// </summary>
public static class Htpasswd
{
    public static async Task<string> LineAsync(string user, string password)
    {
        if (FindOnPath("htpasswd") is { } htpasswd)
        {
            // -n: print, -b: password from the command line (a test secret), -B: bcrypt, -C 5: cheap cost
            var result = await Command.RunAsync(htpasswd, ["-nbB", "-C", "5", user, password]);
            result.EnsureSuccess("htpasswd");
            return result.Output.Trim();
        }
        return user + ":" + Bcrypt(password);
    }

    private static string Bcrypt(string password)
    {
        const string alphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        var salt = "$2b$05$" + new string([.. RandomNumberGenerator.GetBytes(22).Select(b => alphabet[b % 64])]);
        var hash = Marshal.PtrToStringAnsi(Crypt(password, salt));
        if (hash is null || !hash.StartsWith("$2b$05$", StringComparison.Ordinal))
        {
            throw new InvalidOperationException("libcrypt's crypt() does not do bcrypt here; install apache2-utils (htpasswd).");
        }
        return hash;
    }

    [DllImport("libcrypt.so.1", EntryPoint = "crypt")]
    private static extern IntPtr Crypt([MarshalAs(UnmanagedType.LPUTF8Str)] string key, [MarshalAs(UnmanagedType.LPUTF8Str)] string salt);

    internal static string? FindOnPath(string command) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(dir => Path.Combine(dir, command))
            .FirstOrDefault(File.Exists);
}
