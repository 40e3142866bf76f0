using System.Buffers;
using System.Security.Cryptography;
using System.Text;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>
/// A write-only stream that takes a tar, byte for byte, and lays it out as zstd:chunked frames:
/// each regular file's content in frames of its own (cut into chunks of at most
/// <see cref="FrameBatcher.MaxFrameSize"/>), everything between contents (headers, padding, the
/// end of the archive) in frames of their own. The frames decompress to exactly the bytes written,
/// so the diff_id stays the tar's. Along the way it collects the table of contents and the tar-split.
/// </summary>
/// <remarks>
/// It follows the tar block structure itself rather than reading entries with a tar library:
/// only then is every byte, whatever wrote the tar (System.Formats.Tar, GNU tar, BuildKit), kept
/// exactly where it was. Async writes take the sync path (the base's default): parsing and
/// hashing are CPU work on the caller's thread; the compression runs on workers.
/// </remarks>
internal sealed class ChunkedTarStream : ForwardOnlyStream
{
    private const int BlockSize = TarHeaderFields.BlockSize;
    private const int MaxExtensionSize = 1 << 20;
    private const int MaxSegmentSize = 1 << 20;

    private readonly FrameBatcher _frames;
    private readonly TarSplitRecorder _tarSplit;
    private readonly byte[] _block = new byte[BlockSize];
    private readonly ArrayBufferWriter<byte> _segment = new();
    private readonly ArrayBufferWriter<byte> _extension = new();
    private readonly IncrementalHash _fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly IncrementalHash _chunkHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly Crc64Iso _crc = new();

    private State _state;
    private int _blockFill;
    private long _remaining;
    private long _extensionPadding;
    private char _extensionType;
    private readonly Dictionary<string, byte[]> _pax = new(StringComparer.Ordinal);
    private string? _longName;
    private string? _longLink;
    private TocEntry? _file;
    private TocChunk? _chunk;

    public ChunkedTarStream(FrameBatcher frames, TarSplitRecorder tarSplit)
    {
        _frames = frames;
        _tarSplit = tarSplit;
    }

    private enum State
    {
        Header,
        Extension,
        Payload,
        Padding,
        EndOfArchive,
    }

    /// <summary>Every entry of the tar, in tar order.</summary>
    public List<TocEntry> Entries { get; } = [];

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            int used;
            switch (_state)
            {
                case State.Header:
                    used = Math.Min(BlockSize - _blockFill, buffer.Length);
                    buffer[..used].CopyTo(_block.AsSpan(_blockFill));
                    _blockFill += used;
                    if (_blockFill == BlockSize)
                    {
                        _blockFill = 0;
                        OnHeaderBlock();
                    }
                    break;
                case State.Extension:
                    used = (int)Math.Min(_remaining, buffer.Length);
                    Metadata(buffer[..used]);
                    _extension.Write(buffer[..used]);
                    _remaining -= used;
                    if (_remaining == 0)
                    {
                        OnExtensionData();
                    }
                    break;
                case State.Payload:
                    used = (int)Math.Min(Math.Min(_remaining, buffer.Length), FrameBatcher.MaxFrameSize - _frames.OpenFrameLength);
                    OnPayload(buffer[..used]);
                    break;
                case State.Padding:
                    used = (int)Math.Min(_remaining, buffer.Length);
                    Metadata(buffer[..used]);
                    _remaining -= used;
                    if (_remaining == 0)
                    {
                        _state = State.Header;
                    }
                    break;
                default:
                    used = buffer.Length;
                    Metadata(buffer);
                    if (_segment.WrittenCount >= MaxSegmentSize)
                    {
                        FlushSegment();
                    }
                    break;
            }
            buffer = buffer[used..];
        }
    }

    /// <summary>Ends the last frames; the tar must have ended at an entry boundary.</summary>
    public void Finish()
    {
        if (_state is not (State.Header or State.EndOfArchive) || _blockFill != 0)
        {
            throw NotChunkable("The layer's tar ends in the middle of an entry.");
        }
        FlushSegment();
        _frames.EndFrame(null);
    }

    private void OnHeaderBlock()
    {
        if (TarHeaderFields.IsZeroBlock(_block))
        {
            _state = State.EndOfArchive;
            Metadata(_block);
            return;
        }
        if (!TarHeaderFields.HasValidChecksum(_block))
        {
            throw NotChunkable($"The layer's tar has a damaged header after entry '{Entries.LastOrDefault()?.Name}' (checksum mismatch).");
        }

        Metadata(_block);
        var typeFlag = (char)_block[156];
        switch (typeFlag)
        {
            case 'x' or 'L' or 'K':
                _extensionType = typeFlag;
                var size = TarHeaderFields.DataSize(_block);
                if (size > MaxExtensionSize)
                {
                    throw NotChunkable($"The layer's tar has an extended header of {size} bytes.");
                }
                _extension.ResetWrittenCount();
                _remaining = size;
                _extensionPadding = Padding(size);
                _state = State.Extension;
                if (size == 0)
                {
                    OnExtensionData();
                }
                return;
            case 'g':
                throw NotChunkable("The layer's tar has a PAX global header, which the zstd:chunked table of contents cannot describe.");
        }

        var entry = TarHeaderFields.Parse(_block);
        ApplyExtensions(entry);
        if (entry.TypeName is null)
        {
            throw NotChunkable($"The layer's tar holds '{entry.Name}' of tar type '{typeFlag}', which the zstd:chunked table of contents cannot describe (it knows files, directories, links, devices and fifos).");
        }
        Entries.Add(entry);
        FlushSegment();

        var dataSize = entry.IsHeaderOnly ? 0 : entry.Size;
        if (dataSize == 0)
        {
            // tar-split checksums every entry with a size, even one that carries no data.
            _tarSplit.AddFile(entry.Name, entry.Size, entry.Size > 0 ? _crc.GetHashAndReset() : null);
            return;
        }

        _frames.EndFrame(null); // the headers before this content form a frame of their own
        _file = entry;
        _remaining = dataSize;
        _state = State.Payload;
        StartChunk(0);
    }

    private void OnPayload(ReadOnlySpan<byte> data)
    {
        _frames.Append(data);
        _fileHash.AppendData(data);
        _crc.Append(data);
        if (MultiChunk)
        {
            _chunkHash.AppendData(data);
        }
        _chunk!.ChunkSize += data.Length;
        _remaining -= data.Length;

        if (_remaining == 0)
        {
            EndChunk();
            _file!.Digest = Oci.Digest.FromHash(_fileHash.GetHashAndReset()).Value;
            _tarSplit.AddFile(_file.Name, _file.Size, _crc.GetHashAndReset());
            _remaining = Padding(_file.Size);
            _file = null;
            _state = _remaining == 0 ? State.Header : State.Padding;
        }
        else if (_frames.OpenFrameLength == FrameBatcher.MaxFrameSize)
        {
            var next = _chunk.ChunkOffset + _chunk.ChunkSize;
            EndChunk();
            StartChunk(next);
        }
    }

    private bool MultiChunk => _file!.Size > FrameBatcher.MaxFrameSize;

    private void StartChunk(long offsetInFile)
    {
        _chunk = new TocChunk { ChunkOffset = offsetInFile };
        _file!.Chunks.Add(_chunk);
    }

    private void EndChunk()
    {
        var chunk = _chunk!;
        if (MultiChunk)
        {
            chunk.ChunkDigest = Oci.Digest.FromHash(_chunkHash.GetHashAndReset()).Value;
        }
        _frames.EndFrame((start, end) =>
        {
            chunk.Offset = start;
            chunk.EndOffset = end;
        });
    }

    private void OnExtensionData()
    {
        var data = _extension.WrittenSpan;
        switch (_extensionType)
        {
            case 'x':
                PaxRecords.Parse(data, _pax);
                break;
            case 'L':
                _longName = TarHeaderFields.String(data);
                break;
            default:
                _longLink = TarHeaderFields.String(data);
                break;
        }
        _remaining = _extensionPadding;
        _state = _remaining == 0 ? State.Header : State.Padding;
    }

    /// <summary>PAX records, then GNU long names, override the header's fields, as in Go's reader.</summary>
    private void ApplyExtensions(TocEntry entry)
    {
        PaxRecords.Apply(_pax, entry);
        _pax.Clear();
        entry.Name = _longName ?? entry.Name;
        entry.LinkName = _longLink ?? entry.LinkName;
        _longName = _longLink = null;
        if (entry.TypeFlag == '\0')
        {
            entry.TypeFlag = entry.Name.EndsWith('/') ? '5' : '0';
        }
    }

    /// <summary>Bytes that are not file content: into the open metadata frame and the pending tar-split segment.</summary>
    private void Metadata(ReadOnlySpan<byte> bytes)
    {
        _segment.Write(bytes);
        while (!bytes.IsEmpty)
        {
            var take = Math.Min(bytes.Length, FrameBatcher.MaxFrameSize - _frames.OpenFrameLength);
            _frames.Append(bytes[..take]);
            bytes = bytes[take..];
            if (_frames.OpenFrameLength == FrameBatcher.MaxFrameSize)
            {
                _frames.EndFrame(null);
            }
        }
    }

    private void FlushSegment()
    {
        if (_segment.WrittenCount > 0)
        {
            _tarSplit.AddSegment(_segment.WrittenSpan);
            _segment.ResetWrittenCount();
        }
    }

    private static long Padding(long size) => (BlockSize - (size % BlockSize)) % BlockSize;

    private static ZstdContainersException NotChunkable(string problem) => new(
        ErrorCodes.LayerNotChunkable,
        $"{problem} Such a layer cannot be written as zstd:chunked; publish this image with plain zstd layers instead.");

    public override bool CanWrite => true;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _fileHash.Dispose();
            _chunkHash.Dispose();
        }
        base.Dispose(disposing);
    }
}
