using ZstdContainers.Layers;

namespace ZstdContainers.Tests.Layers;

/// <summary>The fingerprints of a split folder, taken in one walk: each part's key depends on its own entries only.</summary>
public sealed class AppLayerFingerprintTests : IDisposable
{
    private static readonly DateTime Yesterday = DateTime.UtcNow.AddDays(-1);
    private readonly string _root = Directory.CreateTempSubdirectory("zstdc-fingerprint-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private static readonly AppLayerPart Runtime = new("runtime", "runtime", new HashSet<string>(StringComparer.Ordinal) { "lib", "lib/runtime.dll" }, 1);
    private static readonly AppLayerPart App = new("app", "app", new HashSet<string>(StringComparer.Ordinal) { "lib", "lib/app.json", "app.dll" }, 2);

    private void Write(string relativePath, int size, DateTime written)
    {
        var path = Path.Combine(_root, relativePath);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, [.. Enumerable.Range(0, size).Select(i => (byte)(i * 7))]);
        File.SetLastWriteTimeUtc(path, written);
    }

    private IReadOnlyList<AppLayerFingerprint?> Keys(params AppLayerPart[] parts) =>
        AppLayerFingerprint.ComputeAll(PublishFolderSnapshot.Take(_root), parts, "/app/", new LayerEntryPolicy(), new SmallFileHashes(), CancellationToken.None);

    [Fact]
    public void One_walk_gives_each_part_the_key_it_has_alone_and_a_change_moves_only_its_own()
    {
        Write("lib/runtime.dll", 200_000, Yesterday);
        Write("lib/app.json", 100, Yesterday);
        Write("app.dll", 100_000, Yesterday);

        var together = Keys(Runtime, App);
        Assert.Equal(Keys(Runtime)[0], together[0]);
        Assert.Equal(Keys(App)[0], together[1]);
        Assert.NotEqual(together[0]!.Key, together[1]!.Key);
        Assert.All(together, k => Assert.True(k!.Settled));

        File.WriteAllBytes(Path.Combine(_root, "lib/app.json"), new byte[100]);
        File.SetLastWriteTimeUtc(Path.Combine(_root, "lib/app.json"), Yesterday.AddMinutes(1));
        var after = Keys(Runtime, App);
        Assert.Equal(together[0], after[0]);
        Assert.NotEqual(together[1]!.Key, after[1]!.Key);
    }

    [Fact]
    public void A_large_file_written_seconds_ago_leaves_only_its_part_unsettled()
    {
        Write("lib/runtime.dll", 200_000, Yesterday);
        Write("lib/app.json", 100, Yesterday);
        Write("app.dll", 100_000, DateTime.UtcNow);

        var keys = Keys(Runtime, App);

        Assert.True(keys[0]!.Settled);
        Assert.False(keys[1]!.Settled);
    }

    [Fact]
    public void The_folder_is_named_the_same_with_or_without_a_trailing_separator()
    {
        // The SDK passes the publish folder with a trailing '/': the record's small-file hashes are
        // kept under the folder's name, so both spellings must find them.
        Write("app.dll", 100, Yesterday);
        Assert.Equal(PublishFolderSnapshot.Take(_root).Directory, PublishFolderSnapshot.Take(_root + Path.DirectorySeparatorChar).Directory);
    }
}
