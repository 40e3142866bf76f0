namespace ZstdContainers.Destinations;

/// <summary>An OCI image layout archive file (the user names its path).</summary>
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
        string? temp = null;
        try
        {
            var output = ArchivePaths.CreateTemp(Path, ".partial-");
            temp = output.Name;
            await using (output.ConfigureAwait(false))
            {
                await OciArchiveWriter.WriteAsync(output, images, cancellationToken).ConfigureAwait(false);
            }
            // Private while written; the finished archive gets the mode any new file of the user
            // gets (the umask's), as the SDK's does.
            ArchivePaths.ApplyDefaultMode(temp);
            File.Move(temp, Path, overwrite: true);
            return ShipReport.AllWritten(images, clock.Elapsed);
        }
        finally
        {
            if (temp is not null)
            {
                File.Delete(temp);
            }
        }
    }
}
