using System.Buffers;
using System.Collections.Concurrent;
using ZstdSharp;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>
/// Compresses a sequence of independent zstd frames on several threads and writes them in order.
/// Frames are gathered into batches of about <see cref="BatchTarget"/> bytes; each batch is one
/// job; at most workers + 1 batches are in flight, so memory stays bounded however large the
/// layer. Every frame is compressed on its own by a single-threaded encoder at the same level,
/// so the bytes do not depend on the number of threads or on which thread took which batch.
/// </summary>
internal sealed class FrameBatcher : IDisposable
{
    /// <summary>The most bytes one frame holds: longer file contents are cut into chunks of this size.</summary>
    public const int MaxFrameSize = 4 << 20;

    private const int BatchTarget = 1 << 20;

    private readonly Stream _output;
    private readonly int _level;
    private readonly int _maxInFlight;
    private readonly ConcurrentBag<Compressor> _compressors = [];
    private readonly Queue<Task<CompressedBatch>> _inFlight = new();
    private readonly CancellationToken _cancellationToken;
    private Batch _current;

    public FrameBatcher(Stream output, ZstdSettings settings, CancellationToken cancellationToken)
    {
        _output = output;
        _level = settings.Level;
        _maxInFlight = settings.Workers + 1;
        _cancellationToken = cancellationToken;
        _current = new Batch();
    }

    /// <summary>Bytes written to the output so far: the offset the next frame written will start at.</summary>
    public long Position { get; private set; }

    /// <summary>Bytes in the frame being gathered.</summary>
    public int OpenFrameLength => _current.Filled - _current.FrameStart;

    /// <summary>Adds bytes to the frame being gathered.</summary>
    public void Append(ReadOnlySpan<byte> data)
    {
        _current.Append(data);
    }

    /// <summary>
    /// Ends the frame being gathered (nothing happens when it is empty). <paramref name="onWritten"/>
    /// is called with the frame's start and end offsets in the output once it is written.
    /// </summary>
    public void EndFrame(Action<long, long>? onWritten)
    {
        if (OpenFrameLength == 0)
        {
            return;
        }
        _current.EndFrame(onWritten);
        if (_current.Filled >= BatchTarget)
        {
            Submit();
        }
    }

    /// <summary>Compresses and writes everything gathered; call after the last frame.</summary>
    public void Complete()
    {
        if (_current.Frames.Count > 0)
        {
            Submit();
        }
        while (_inFlight.Count > 0)
        {
            WriteOldest();
        }
    }

    /// <summary>Writes bytes that are not a compressed frame (skippable frames) after everything else.</summary>
    public void WriteRaw(ReadOnlySpan<byte> data)
    {
        _output.Write(data);
        Position += data.Length;
    }

    private void Submit()
    {
        var batch = _current;
        _current = new Batch();
        _inFlight.Enqueue(Task.Run(() => Compress(batch), _cancellationToken));
        while (_inFlight.Count > _maxInFlight || (_inFlight.Count > 0 && _inFlight.Peek().IsCompleted))
        {
            WriteOldest();
        }
    }

    private void WriteOldest()
    {
        var compressed = _inFlight.Dequeue().GetAwaiter().GetResult();
        try
        {
            var at = 0;
            foreach (var (length, onWritten) in compressed.Frames)
            {
                var start = Position;
                _output.Write(compressed.Buffer, at, length);
                at += length;
                Position += length;
                onWritten?.Invoke(start, Position);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(compressed.Buffer);
        }
    }

    private CompressedBatch Compress(Batch batch)
    {
        if (!_compressors.TryTake(out var compressor))
        {
            compressor = new Compressor(_level);
        }
        try
        {
            var capacity = batch.Frames.Sum(f => Compressor.GetCompressBound(f.Length));
            var output = ArrayPool<byte>.Shared.Rent(capacity);
            var frames = new List<(int, Action<long, long>?)>(batch.Frames.Count);
            var at = 0;
            foreach (var frame in batch.Frames)
            {
                var length = compressor.Wrap(batch.Buffer.AsSpan(frame.Start, frame.Length), output.AsSpan(at));
                frames.Add((length, frame.OnWritten));
                at += length;
            }
            return new CompressedBatch(output, frames);
        }
        finally
        {
            batch.Release();
            _compressors.Add(compressor);
        }
    }

    public void Dispose()
    {
        foreach (var task in _inFlight)
        {
            try
            {
                task.GetAwaiter().GetResult();
            }
            catch
            {
                // Failing already; only the buffers and encoders matter here.
            }
        }
        _current.Release();
        while (_compressors.TryTake(out var compressor))
        {
            compressor.Dispose();
        }
    }

    private sealed record CompressedBatch(byte[] Buffer, List<(int Length, Action<long, long>? OnWritten)> Frames);

    private readonly record struct Frame(int Start, int Length, Action<long, long>? OnWritten);

    /// <summary>Frames gathered in one pooled buffer: a frame in progress never exceeds <see cref="MaxFrameSize"/>.</summary>
    private sealed class Batch
    {
        public Batch() => Buffer = ArrayPool<byte>.Shared.Rent(BatchTarget + MaxFrameSize);

        public byte[] Buffer { get; private set; }

        public List<Frame> Frames { get; } = [];

        public int Filled { get; private set; }

        public int FrameStart { get; private set; }

        public void Append(ReadOnlySpan<byte> data)
        {
            if (Filled - FrameStart + data.Length > MaxFrameSize)
            {
                throw new InvalidOperationException($"A frame may hold at most {MaxFrameSize} bytes.");
            }
            data.CopyTo(Buffer.AsSpan(Filled));
            Filled += data.Length;
        }

        public void EndFrame(Action<long, long>? onWritten)
        {
            Frames.Add(new Frame(FrameStart, Filled - FrameStart, onWritten));
            FrameStart = Filled;
        }

        public void Release()
        {
            if (Buffer.Length > 0)
            {
                ArrayPool<byte>.Shared.Return(Buffer);
                Buffer = [];
            }
        }
    }
}
