using System.Globalization;
using System.Text;

namespace ZstdContainers.Layers.ZstdChunked;

/// <summary>PAX extended header records ("LEN key=value\n"), and how they change an entry (Go's mergePAX).</summary>
internal static class PaxRecords
{
    private const string XattrPrefix = "SCHILY.xattr.";

    /// <summary>Adds the records in <paramref name="data"/> to <paramref name="records"/> (a later record wins).</summary>
    public static void Parse(ReadOnlySpan<byte> data, Dictionary<string, byte[]> records)
    {
        while (!data.IsEmpty)
        {
            var space = data.IndexOf((byte)' ');
            if (space <= 0
                || !int.TryParse(data[..space], NumberStyles.None, CultureInfo.InvariantCulture, out var length)
                || length <= space + 1
                || length > data.Length
                || data[length - 1] != (byte)'\n')
            {
                if (data.IndexOfAnyExcept((byte)0) < 0)
                {
                    return; // NUL padding some writers leave after the last record
                }
                throw new ZstdContainersException(
                    ErrorCodes.LayerNotChunkable,
                    "The layer's tar has a malformed PAX extended header. Such a layer cannot be written as zstd:chunked; publish this image with plain zstd layers instead.");
            }
            var record = data[(space + 1)..(length - 1)];
            var equals = record.IndexOf((byte)'=');
            if (equals > 0)
            {
                records[Encoding.UTF8.GetString(record[..equals])] = record[(equals + 1)..].ToArray();
            }
            data = data[length..];
        }
    }

    public static void Apply(Dictionary<string, byte[]> records, TocEntry entry)
    {
        foreach (var (key, raw) in records)
        {
            var value = Encoding.UTF8.GetString(raw);
            switch (key)
            {
                case "path":
                    entry.Name = value;
                    break;
                case "linkpath":
                    entry.LinkName = value;
                    break;
                case "uid":
                    entry.Uid = long.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "gid":
                    entry.Gid = long.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "size":
                    entry.Size = long.Parse(value, CultureInfo.InvariantCulture);
                    break;
                case "mtime":
                    entry.ModTime = UnixTime.ParsePax(value);
                    break;
                case "atime":
                    entry.AccessTime = UnixTime.ParsePax(value);
                    break;
                case "ctime":
                    entry.ChangeTime = UnixTime.ParsePax(value);
                    break;
                default:
                    if (key.StartsWith(XattrPrefix, StringComparison.Ordinal))
                    {
                        entry.Xattrs[key[XattrPrefix.Length..]] = Convert.ToBase64String(raw);
                    }
                    break;
            }
        }
    }
}
