using System.Text;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>
/// Reads the fields of one 512-byte tar header block the way Go's archive/tar does, because the
/// zstd:chunked readers (containers/storage) compare the table of contents with what Go parses
/// from the same headers: numbers in octal or base-256, names cut at the first NUL, the ustar
/// prefix joined with a '/', GNU and star access/change times.
/// </summary>
internal static class TarHeaderFields
{
    public const int BlockSize = 512;

    private enum Format
    {
        V7,
        Ustar,
        Gnu,
        Star,
    }

    /// <summary>The entry a header describes, before PAX records and GNU long names are applied.</summary>
    public static TocEntry Parse(ReadOnlySpan<byte> block)
    {
        var format = FormatOf(block);
        var entry = new TocEntry
        {
            TypeFlag = (char)block[156],
            Name = String(block.Slice(0, 100)),
            LinkName = String(block.Slice(157, 100)),
            Mode = Numeric(block.Slice(100, 8)),
            Uid = Numeric(block.Slice(108, 8)),
            Gid = Numeric(block.Slice(116, 8)),
            Size = Numeric(block.Slice(124, 12)),
            ModTime = new UnixTime(Numeric(block.Slice(136, 12)), 0),
        };
        if (format != Format.V7)
        {
            entry.DevMajor = Numeric(block.Slice(329, 8));
            entry.DevMinor = Numeric(block.Slice(337, 8));
        }

        var prefix = string.Empty;
        switch (format)
        {
            case Format.Ustar:
                prefix = String(block.Slice(345, 155));
                break;
            case Format.Star:
                prefix = String(block.Slice(345, 131));
                entry.AccessTime = new UnixTime(Numeric(block.Slice(476, 12)), 0);
                entry.ChangeTime = new UnixTime(Numeric(block.Slice(488, 12)), 0);
                break;
            case Format.Gnu:
                if (block[345] != 0)
                {
                    entry.AccessTime = new UnixTime(Numeric(block.Slice(345, 12)), 0);
                }
                if (block[357] != 0)
                {
                    entry.ChangeTime = new UnixTime(Numeric(block.Slice(357, 12)), 0);
                }
                break;
        }
        if (prefix.Length > 0)
        {
            entry.Name = prefix + "/" + entry.Name;
        }
        return entry;
    }

    /// <summary>The data size field alone, for the PAX and GNU long-name blocks that precede an entry.</summary>
    public static long DataSize(ReadOnlySpan<byte> block) => Numeric(block.Slice(124, 12));

    /// <summary>Bytes up to the first NUL, as UTF-8 (tar names are bytes; ours and Debian's are UTF-8).</summary>
    public static string String(ReadOnlySpan<byte> field)
    {
        var end = field.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? field : field[..end]);
    }

    /// <summary>An octal field (spaces and NULs trimmed at both ends) or a base-256 one (high bit set).</summary>
    public static long Numeric(ReadOnlySpan<byte> field)
    {
        if (field.Length > 0 && (field[0] & 0x80) != 0)
        {
            // Two's complement base-256: the first byte's 0x40 bit is the sign.
            var negative = (field[0] & 0x40) != 0;
            long value = 0;
            for (var i = 0; i < field.Length; i++)
            {
                var b = i == 0 ? (byte)(field[0] & 0x7F) : field[i];
                if (negative)
                {
                    b = (byte)~b;
                    if (i == 0)
                    {
                        b &= 0x7F;
                    }
                }
                value = (value << 8) | b;
            }
            return negative ? -value - 1 : value;
        }

        var trimmed = field.Trim(" \0"u8);
        var nul = trimmed.IndexOf((byte)0);
        if (nul >= 0)
        {
            trimmed = trimmed[..nul];
        }
        long result = 0;
        foreach (var b in trimmed)
        {
            if (b is < (byte)'0' or > (byte)'7')
            {
                throw new InvalidDataException($"The tar header field '{Encoding.ASCII.GetString(field)}' is not an octal number.");
            }
            result = (result * 8) + (b - '0');
        }
        return result;
    }

    /// <summary>True when the 512 bytes are all zero: one of the blocks that end the archive.</summary>
    public static bool IsZeroBlock(ReadOnlySpan<byte> block) => block.IndexOfAnyExcept((byte)0) < 0;

    /// <summary>True when the stored checksum matches the block (unsigned sum, or the signed sum old tars wrote).</summary>
    public static bool HasValidChecksum(ReadOnlySpan<byte> block)
    {
        long unsigned = 0, signed = 0;
        for (var i = 0; i < BlockSize; i++)
        {
            var b = i is >= 148 and < 156 ? (byte)' ' : block[i];
            unsigned += b;
            signed += (sbyte)b;
        }
        var stored = Numeric(block.Slice(148, 8));
        return stored == unsigned || stored == signed;
    }

    private static Format FormatOf(ReadOnlySpan<byte> block)
    {
        var magic = block.Slice(257, 6);
        if (magic.SequenceEqual("ustar\0"u8))
        {
            return block.Slice(508, 4).SequenceEqual("tar\0"u8) ? Format.Star : Format.Ustar;
        }
        if (magic.SequenceEqual("ustar "u8) && block.Slice(263, 2).SequenceEqual(" \0"u8))
        {
            return Format.Gnu;
        }
        return Format.V7;
    }
}
