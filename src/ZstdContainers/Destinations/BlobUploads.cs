using System.Diagnostics;
using ZstdContainers.Oci;

namespace ZstdContainers.Destinations;

/// <summary>
/// The layer uploads of one push to one repository: each blob is started once (by digest), as soon
/// as it is handed over, and at most three run at a time. A publish feeds it layers as they are
/// built (<see cref="IEarlyBlobSink"/>), so uploads overlap the compression of the other layers;
/// the push then waits here for every layer of the image before the config and the manifest go up.
/// </summary>
public sealed class BlobUploads : IAsyncDisposable
{
    private const int MaxParallelBlobs = 3;

    private readonly RegistryPusher _pusher;
    private readonly CancellationTokenSource _stop;
    private readonly SemaphoreSlim _gate = new(MaxParallelBlobs);
    private readonly Dictionary<Digest, Task<BlobShipment>> _started = [];
    private readonly Lock _lock = new();

    internal BlobUploads(RegistryPusher pusher, CancellationToken cancellationToken)
    {
        _pusher = pusher;
        _stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
    }

    /// <summary>The repository the blobs go to.</summary>
    public string Repository => _pusher.Repository;

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
    public async Task<IReadOnlyList<BlobShipment>> ShipAllAsync(IEnumerable<ImageLayer> layers) =>
        await Task.WhenAll(layers.Select(Ship).ToList()).ConfigureAwait(false);

    private async Task<BlobShipment> PushAsync(ImageLayer layer)
    {
        await _gate.WaitAsync(_stop.Token).ConfigureAwait(false);
        try
        {
            var clock = Stopwatch.StartNew();
            var transfer = await _pusher.PushLayerAsync(layer, _stop.Token).ConfigureAwait(false);
            return new BlobShipment(layer.Descriptor.Digest, layer.Descriptor.Size, transfer, clock.Elapsed);
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
