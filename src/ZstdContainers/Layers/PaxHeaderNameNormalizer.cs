using System.Text;

namespace ZstdContainers.Layers;

/// <summary>
/// System.Formats.Tar names PAX extended headers "PaxHeaders.&lt;process id&gt;/…", which makes the
/// same folder give a different tar (and diff_id) in every build. This write-through stream
/// follows the tar block structure and rewrites that name to "PaxHeaders.0/…", fixing the header
/// checksum, so the layer depends only on its content. Async writes take the sync path (the
/// base's default): tar writing is CPU-bound against a pipe of in-memory streams.
/// </summary>
internal sealed class PaxHeaderNameNormalizer : ForwardOnlyStream
{
    private const int BlockSize = 512;
    private static readonly byte[] Marker = Encoding.ASCII.GetBytes("PaxHeaders.");

    private readonly Stream _inner;
    private readonly byte[] _header = new byte[BlockSize];
    private int _headerFill;
    private long _dataRemaining; // bytes of entry data (padded to whole blocks) still to pass through

    public PaxHeaderNameNormalizer(Stream inner) => _inner = inner;

    public override bool CanWrite => true;

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        while (!buffer.IsEmpty)
        {
            if (_dataRemaining > 0)
            {
                var n = (int)Math.Min(_dataRemaining, buffer.Length);
                _inner.Write(buffer[..n]);
                _dataRemaining -= n;
                buffer = buffer[n..];
                continue;
            }

            var take = Math.Min(BlockSize - _headerFill, buffer.Length);
            buffer[..take].CopyTo(_header.AsSpan(_headerFill));
            _headerFill += take;
            buffer = buffer[take..];
            if (_headerFill == BlockSize)
            {
                ProcessHeader();
                _inner.Write(_header);
                _headerFill = 0;
            }
        }
    }

    private void ProcessHeader()
    {
        if (_header.AsSpan().IndexOfAnyExcept((byte)0) < 0)
        {
            return; // one of the two zero blocks that end the archive
        }

        var type = (char)_header[156];
        if (type is 'x' or 'g')
        {
            NormalizeName();
        }
        var size = ParseSize(_header.AsSpan(124, 12));
        _dataRemaining = (size + BlockSize - 1) / BlockSize * BlockSize;
    }

    private void NormalizeName()
    {
        var name = _header.AsSpan(0, 100);
        var at = name.IndexOf(Marker);
        if (at < 0)
        {
            return;
        }
        var digitsStart = at + Marker.Length;
        var digitsEnd = digitsStart;
        while (digitsEnd < name.Length && name[digitsEnd] is >= (byte)'0' and <= (byte)'9')
        {
            digitsEnd++;
        }
        if (digitsEnd - digitsStart <= 1 && name[digitsStart] == (byte)'0')
        {
            return;
        }
        var rest = name[digitsEnd..].ToArray();
        name[digitsStart] = (byte)'0';
        name[(digitsStart + 1)..].Clear();
        rest.AsSpan(0, Math.Min(rest.Length, name.Length - digitsStart - 1)).CopyTo(name[(digitsStart + 1)..]);
        WriteChecksum();
    }

    private void WriteChecksum()
    {
        var checksumField = _header.AsSpan(148, 8);
        checksumField.Fill((byte)' ');
        var sum = 0;
        foreach (var b in _header)
        {
            sum += b;
        }
        // Six octal digits, NUL, space: the layout System.Formats.Tar and GNU tar write.
        var octal = Convert.ToString(sum, 8).PadLeft(6, '0');
        Encoding.ASCII.GetBytes(octal, checksumField);
        checksumField[6] = 0;
        checksumField[7] = (byte)' ';
    }

    private static long ParseSize(ReadOnlySpan<byte> field)
    {
        if ((field[0] & 0x80) != 0)
        {
            // base-256 encoding for sizes of 8 GiB and more
            long value = field[0] & 0x7F;
            for (var i = 1; i < field.Length; i++)
            {
                value = (value << 8) | field[i];
            }
            return value;
        }
        // octal digits, possibly after leading spaces, ended by NUL or space
        long result = 0;
        foreach (var b in field.TrimStart((byte)' '))
        {
            if (b is < (byte)'0' or > (byte)'7')
            {
                break;
            }
            result = (result * 8) + (b - '0');
        }
        return result;
    }

    public override void Flush() => _inner.Flush();
    public override Task FlushAsync(CancellationToken cancellationToken) => _inner.FlushAsync(cancellationToken);
}
