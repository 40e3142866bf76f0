namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>
/// CRC-64 with the ISO 3309 polynomial, reflected, all-ones start and final inversion: Go's
/// hash/crc64 with crc64.ISO, which tar-split uses to check file contents. (.NET's
/// System.IO.Hashing.Crc64 is the ECMA-182 variant, which gives other values.)
/// </summary>
internal sealed class Crc64Iso
{
    private const ulong ReflectedPolynomial = 0xD800000000000000;
    private static readonly ulong[] Table = BuildTable();

    private ulong _state = ulong.MaxValue;

    public void Append(ReadOnlySpan<byte> data)
    {
        var crc = _state;
        foreach (var b in data)
        {
            crc = Table[(byte)crc ^ b] ^ (crc >> 8);
        }
        _state = crc;
    }

    /// <summary>The checksum, big-endian, as Go's Hash.Sum appends it; then starts over.</summary>
    public byte[] GetHashAndReset()
    {
        var value = ~_state;
        _state = ulong.MaxValue;
        var bytes = new byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        return bytes;
    }

    private static ulong[] BuildTable()
    {
        var table = new ulong[256];
        for (ulong i = 0; i < 256; i++)
        {
            var crc = i;
            for (var bit = 0; bit < 8; bit++)
            {
                crc = (crc & 1) == 1 ? (crc >> 1) ^ ReflectedPolynomial : crc >> 1;
            }
            table[i] = crc;
        }
        return table;
    }
}
