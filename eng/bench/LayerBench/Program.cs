// LayerBench: times ZstdContainers' own layer code, the way the CreateNewImage task runs it.
//
//   LayerBench layer --dir DIR [--level 3] [--workers N] [--warmup 1] [--iterations 3]
//                    [--mode full|tar|tarhash|zstd] [--chunked] [--out FILE]
//       full     DirectoryLayerWriter -> ZstdBlobWriter (what the task does for the app layer)
//       tar      DirectoryLayerWriter into a byte counter (file reads + tar framing only)
//       tarhash  tar + the sha256 of the tar (the diff_id)
//       zstd     ZstdBlobWriter fed from a tar file already on disk (--dir is then that file):
//                encoder + both hashes + blob write, no tar building
//   LayerBench transcode [--level 3] [--workers N] [--parts] --layer FILE.gz DIGEST DIFFID [--layer ...]
//       BaseLayerTranscoder on base layer blobs on disk, one after another as the task runs them;
//       prints the zstd size, wall and CPU seconds (this process, every thread) of each. --parts
//       first reads each blob twice more: gunzip alone, then gunzip + the sha256 of the blob and
//       of the tar (what the transcoder checks), so the encoder's share is the rest.
//   LayerBench chunked --tar FILE [--level 3]
//       where the bytes of a zstd:chunked layer go, against plain zstd (see ChunkedAnalysis.cs).
//
// Every iteration prints one JSON line; the last line is {"summary":...} with the median and the
// process's peak working set. Output blobs go to --out (default: a temp file), deleted after.
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text.Json;
using ZstdContainers.Layers;
using ZstdContainers.Oci;

var inv = CultureInfo.InvariantCulture;
if (args.Length == 0)
{
    Console.Error.WriteLine("usage: LayerBench layer|transcode ...");
    return 2;
}

string Opt(string name, string fallback)
{
    var i = Array.IndexOf(args, "--" + name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

var level = int.Parse(Opt("level", "3"), inv);
var workersText = Opt("workers", "");
var settings = new ZstdSettings(level, workersText.Length == 0 ? null : int.Parse(workersText, inv)) { Chunked = args.Contains("--chunked") };
var outPath = Opt("out", Path.Combine(Path.GetTempPath(), $"layerbench-{Environment.ProcessId}.blob"));
var samples = new List<double>();

void Emit(object o) => Console.WriteLine(JsonSerializer.Serialize(o));

try
{
    switch (args[0])
    {
        case "layer":
        {
            var dir = Opt("dir", "");
            var mode = Opt("mode", "full");
            var warmup = int.Parse(Opt("warmup", "1"), inv);
            var iterations = int.Parse(Opt("iterations", "3"), inv);
            long tarBytes = 0, blobBytes = 0;
            for (var i = 0; i < warmup + iterations; i++)
            {
                var clock = Stopwatch.StartNew();
                (tarBytes, blobBytes) = await RunLayerAsync(mode, dir, outPath, settings);
                var seconds = clock.Elapsed.TotalSeconds;
                var counted = i >= warmup;
                if (counted)
                {
                    samples.Add(seconds);
                }
                Emit(new { mode, level, workers = settings.Workers, iteration = i, warmup = !counted, seconds, tarBytes, blobBytes, tarMBps = tarBytes / 1e6 / seconds });
                GC.Collect();
            }
            var median = Median(samples);
            Emit(new { summary = true, mode, level, workers = settings.Workers, medianSeconds = median, tarBytes, blobBytes, tarMBps = tarBytes / 1e6 / median, peakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64 });
            break;
        }
        case "transcode":
        {
            long total = 0;
            var clock = Stopwatch.StartNew();
            for (var i = 0; i < args.Length; i++)
            {
                if (args[i] != "--layer")
                {
                    continue;
                }
                var (file, digest, diffId) = (args[i + 1], Digest.Parse(args[i + 2]), Digest.Parse(args[i + 3]));
                var compression = IsGzip(file) ? LayerCompression.Gzip : LayerCompression.None;
                if (args.Contains("--parts"))
                {
                    foreach (var part in new[] { "gunzip", "gunzip+sha256" })
                    {
                        var (wall, cpu) = Timed(() => DecodeOnly(file, compression, hash: part != "gunzip"));
                        Emit(new { layer = digest.Value, part, seconds = wall, cpuSeconds = cpu });
                    }
                }
                var one = Stopwatch.StartNew();
                var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
                await using var input = File.OpenRead(file);
                var blob = await BaseLayerTranscoder.TranscodeAsync(input, compression, digest, diffId, outPath, settings, CancellationToken.None);
                Emit(new { layer = digest.Value, level, sourceBytes = new FileInfo(file).Length, tarBytes = blob.TarSize, zstdBytes = blob.Size, blobDigest = blob.Descriptor.Digest.ToString(), seconds = one.Elapsed.TotalSeconds, cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds });
                total += blob.Size;
                File.Delete(outPath);
            }
            Emit(new { summary = true, level, zstdBytes = total, seconds = clock.Elapsed.TotalSeconds, peakWorkingSetBytes = Process.GetCurrentProcess().PeakWorkingSet64 });
            break;
        }
        case "chunked":
            Emit(await ChunkedAnalysis.RunAsync(Opt("tar", ""), level, outPath));
            break;
        default:
            Console.Error.WriteLine($"unknown command '{args[0]}'");
            return 2;
    }
}
finally
{
    File.Delete(outPath);
}
return 0;

static async Task<(long Tar, long Blob)> RunLayerAsync(string mode, string dir, string outPath, ZstdSettings settings)
{
    var policy = new LayerEntryPolicy();
    switch (mode)
    {
        case "full":
        {
            var writer = new DirectoryLayerWriter(dir, "/app/", policy);
            var blob = await ZstdBlobWriter.WriteDirectoryAsync(writer, outPath, settings, CancellationToken.None);
            return (blob.TarSize, blob.Size);
        }
        case "tar":
        {
            var sink = new CountingStream();
            new DirectoryLayerWriter(dir, "/app/", policy).WriteTar(sink, CancellationToken.None);
            return (sink.Count, 0);
        }
        case "tarhash":
        {
            var sink = new CountingStream();
            using var hashing = new HashingWriteStream(sink, leaveOpen: true);
            new DirectoryLayerWriter(dir, "/app/", policy).WriteTar(hashing, CancellationToken.None);
            _ = hashing.Digest;
            return (sink.Count, 0);
        }
        case "zstd":
        {
            var blob = await ZstdBlobWriter.WriteAsync(
                async (tar, ct) =>
                {
                    await using var input = new FileStream(dir, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
                    await input.CopyToAsync(tar, 1 << 20, ct);
                },
                outPath, settings, CancellationToken.None);
            return (blob.TarSize, blob.Size);
        }
        default:
            throw new ArgumentException($"unknown mode '{mode}'");
    }
}

// wall and CPU seconds (the whole process) of one synchronous piece of work
static (double Wall, double Cpu) Timed(Action work)
{
    var cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var clock = Stopwatch.StartNew();
    work();
    return (clock.Elapsed.TotalSeconds, (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds);
}

// The transcoder's reading side without the encoder: gunzip, and with hash the sha256 of the blob and of the tar.
static void DecodeOnly(string file, LayerCompression compression, bool hash)
{
    var source = new BufferedStream(File.OpenRead(file), 1 << 20);
    using Stream raw = hash ? new HashingReadStream(source) : source;
    using Stream tar = compression == LayerCompression.Gzip ? new GZipStream(raw, CompressionMode.Decompress, leaveOpen: true) : raw;
    using var sink = new HashingWriteStream(new CountingStream());
    var buffer = new byte[1 << 20];
    int n;
    while ((n = tar.ReadAtLeast(buffer, buffer.Length, throwOnEndOfStream: false)) > 0)
    {
        if (hash)
        {
            sink.Write(buffer, 0, n);
        }
    }
    if (hash)
    {
        _ = (((HashingReadStream)raw).Digest, sink.Digest);
    }
}

static bool IsGzip(string file)
{
    using var f = File.OpenRead(file);
    return f.ReadByte() == 0x1f && f.ReadByte() == 0x8b;
}

static double Median(List<double> values)
{
    if (values.Count == 0)
    {
        return double.NaN;
    }
    var sorted = values.Order().ToList();
    var mid = sorted.Count / 2;
    return sorted.Count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/// <summary>A write-only sink that only counts.</summary>
internal sealed class CountingStream : Stream
{
    public long Count { get; private set; }
    public override bool CanRead => false;
    public override bool CanSeek => false;
    public override bool CanWrite => true;
    public override long Length => Count;
    public override long Position { get => Count; set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => Count += count;
    public override void Write(ReadOnlySpan<byte> buffer) => Count += buffer.Length;
}
