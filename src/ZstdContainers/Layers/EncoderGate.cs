namespace ZstdContainers.Layers;

/// <summary>
/// Lets one zstd encoder run at a time in this process. Each encoder already uses every core
/// (<see cref="ZstdSettings.Workers"/>), so running the base-layer transcodes and the app layer
/// side by side only adds buffers and context switches: the benchmark measured 2.0 s for the
/// stand-in base's three transcodes one after another against 2.2–2.8 s all at once, with one set
/// of encoder buffers instead of four. Callers enter before opening what they read, so no
/// download sits idle while it waits.
/// </summary>
public static class EncoderGate
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public static async Task<IDisposable> EnterAsync(CancellationToken cancellationToken)
    {
        await Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        return new Releaser();
    }

    private sealed class Releaser : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _released, 1) == 0)
            {
                Gate.Release();
            }
        }
    }
}
