using System.Diagnostics;
using System.Runtime.ExceptionServices;
using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>
/// The layer uploads of one push to one repository: each blob is started once (by digest), as soon
/// as it is handed over, and at most three run at a time. A publish feeds it layers as they are
/// built (<see cref="IEarlyBlobSink"/>), so uploads overlap the compression of the other layers;
/// the push then waits here for every layer of the image before the config and the manifest go up.
/// The first upload that fails stops the others and cancels <see cref="Stopped"/>, so the publish
/// can stop building layers no image will carry and report that failure at once.
/// </summary>
public sealed class BlobUploads : IAsyncDisposable
{
    private const int MaxParallelBlobs = 3;

    private readonly RegistryPusher _pusher;
    private readonly CancellationTokenSource _stop;
    private readonly SemaphoreSlim _gate = new(MaxParallelBlobs);
    private readonly Dictionary<Digest, Task<BlobShipment>> _started = [];
    private readonly Lock _lock = new();
    private ExceptionDispatchInfo? _firstFailure;

    internal BlobUploads(RegistryPusher pusher, CancellationToken cancellationToken)
    {
        _pusher = pusher;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>The repository the blobs go to.</summary>
    public string Repository => _pusher.Repository;

    /// <summary>
    /// Cancelled when the uploads stop: at the first upload that fails (see <see cref="ThrowIfFailed"/>),
    /// when the caller's token is cancelled, or on dispose. Link the build's own work to it.
    /// </summary>
    public CancellationToken Stopped => _stop.Token;

    /// <summary>
    /// Rethrows the first upload failure, if there was one: after it, what the rest of the publish
    /// reports (cancellations of the work it stopped) is only its consequence.
    /// </summary>
    public void ThrowIfFailed() => Volatile.Read(ref _firstFailure)?.Throw();

    /// <summary>
    /// Starts shipping the layer's blob unless it was started already; the task ends when the
    /// registry holds it (uploaded, found there or mounted). Returns at once: the work runs on the
    /// thread pool, not on the caller's (a layer builder's) thread.
    /// </summary>
    public Task<BlobShipment> Ship(ImageLayer layer)
    {
        lock (_lock)
        {
            if (!_started.TryGetValue(layer.Descriptor.Digest, out var shipment))
            {
                shipment = Task.Run(() => PushAsync(layer));
                _started[layer.Descriptor.Digest] = shipment;
            }
            return shipment;
        }
    }

    /// <summary>Every layer shipped (those not started yet are started now), in the order given.</summary>
    public async Task<IReadOnlyList<BlobShipment>> ShipAllAsync(IEnumerable<ImageLayer> layers)
    {
        try
        {
            return await Task.WhenAll(layers.Select(Ship).ToList()).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Task.WhenAll throws the first faulted task's exception in list order; an upload that
            // the failure of a later one stopped mid-request may fault with an I/O error, not a cancellation.
            ThrowIfFailed();
            throw;
        }
    }

    private async Task<BlobShipment> PushAsync(ImageLayer layer)
    {
        await _gate.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            var clock = Stopwatch.StartNew();
            var transfer = await _pusher.PushLayerAsync(layer, _stop.Token).ConfigureAwait(false);
            return new BlobShipment(layer.Descriptor.Digest, layer.Descriptor.Size, transfer, clock.Elapsed);
        }
        catch (Exception ex) when (!_stop.IsCancellationRequested)
        {
            // The first real failure (not an upload this class stopped): no manifest will go up, so
            // the other uploads and the layers still being built are wasted work.
            if (Interlocked.CompareExchange(ref _firstFailure, ExceptionDispatchInfo.Capture(ex), null) is null)
            {
                await _stop.CancelAsync().ConfigureAwait(false);
            }
            throw;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>
    /// Stops uploads still running (after a successful push there are none: the push waited for
    /// them) and waits until they have stopped, so none outlives the publish that started it.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        Task[] running;
        lock (_lock)
        {
            running = [.. _started.Values];
        }
        try
        {
            await Task.WhenAll(running).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // Nothing to add: after a failed publish its own error is the one to report, and after a
            // successful push every upload was awaited (and any failure thrown) before this.
        }
        _stop.Dispose();
        _gate.Dispose();
    }
}
