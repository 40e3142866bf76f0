using System.Diagnostics;

namespace ZstdContainers.Caching;

/// <summary>
/// The lock file of one cache entry, held open with FileShare.None (an flock on Unix), so two builds
/// do not transcode the same layer at once. It only saves work: correctness does not depend on it.
/// </summary>
internal static class EntryLock
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(200);

    /// <summary>The held lock, or null when waiting took longer than <paramref name="timeout"/> or
    /// locking is impossible: the work is then done without it.</summary>
    public static async Task<IDisposable?> AcquireAsync(string path, TimeSpan timeout, IBuildLog log, CancellationToken ct)
    {
        var waited = Stopwatch.StartNew();
        var announced = false;
        while (true)
        {
            try
            {
                // Inside the cache's private folder, so its mode needs no care of its own.
                return new FileStream(path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1);
            }
            catch (IOException e) when (e is not (FileNotFoundException or DirectoryNotFoundException or PathTooLongException))
            {
                if (waited.Elapsed >= timeout)
                {
                    log.Detail($"Gave up waiting after {waited.Elapsed.TotalSeconds:0} s for the build holding {path}; recompressing the layer here too.");
                    return null;
                }
                if (!announced)
                {
                    log.Detail($"Waiting for another build that is recompressing the same base layer ({path}).");
                    announced = true;
                }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                log.Detail($"Cannot lock {path} ({e.Message}); recompressing without the lock.");
                return null;
            }
            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
    }
}
