namespace ZstdContainers.Destinations;

/// <summary>An OCI image layout archive file (ContainerArchiveOutputPath).</summary>
public sealed class ArchiveSink(string path) : IImageSink
{
    public string Path { get; } = path;

    public string Verb => "Wrote";

    public string Describe(string repository, IReadOnlyList<string> tags) =>
        $"{repository}:{string.Join(",", ImageSinks.Distinct(tags))} to {Path}";

    public IReadOnlyList<string> ImageNames(string repository, IReadOnlyList<string> tags) => ImageSinks.Names(repository, tags);

    public void CheckWritable() => ArchivePaths.EnsureWritable(Path);

    public async Task<ShipReport> ShipAsync(ImageSet images, CancellationToken cancellationToken)
    {
        // Write next to the target and rename at the end: a failed publish never leaves a torn archive.
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var temp = Path + ".partial-" + Environment.ProcessId;
        try
        {
            var output = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, FileOptions.Asynchronous);
            await using (output.ConfigureAwait(false))
            {
                await OciArchiveWriter.WriteAsync(output, images, cancellationToken).ConfigureAwait(false);
            }
            File.Move(temp, Path, overwrite: true);
            return ShipReport.AllWritten(images, clock.Elapsed);
        }
        finally
        {
            File.Delete(temp);
        }
    }
}
