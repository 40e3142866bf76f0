using System.Diagnostics;
using ZstdContainers.Layers;

namespace ZstdContainers.Building;

/// <summary>One app layer as built: the part of the publish folder it holds, its blob, and the time it took.</summary>
public sealed record AppLayerBuild(AppLayerPart Part, LayerBlob Blob, TimeSpan Elapsed);

/// <summary>
/// Writes the app layers of a publish folder, bottom to top, one zstd blob each. Each layer waits
/// for its own turn at the <see cref="EncoderGate"/>, so base-layer transcodes can run between
/// them instead of waiting for the whole app side.
/// </summary>
internal static class AppLayerBuilder
{
    public static async Task<List<AppLayerBuild>> BuildAsync(
        ImageRequest request,
        IReadOnlyList<AppLayerPart> parts,
        LayerEntryPolicy policy,
        ZstdSettings settings,
        string workDirectory,
        IBuildLog log,
        CancellationToken cancellationToken)
    {
        var built = new List<AppLayerBuild>(parts.Count);
        for (var i = 0; i < parts.Count; i++)
        {
            var part = parts[i];
            var writer = new DirectoryLayerWriter(request.PublishDirectory, request.WorkingDirectory, policy, part.Selection, log);
            using var turn = await EncoderGate.EnterAsync(cancellationToken).ConfigureAwait(false);
            var clock = Stopwatch.StartNew();
            var blobPath = Path.Combine(workDirectory, $"app-layer-{i}.tar.zst");
            var blob = await ZstdBlobWriter.WriteDirectoryAsync(writer, blobPath, settings, cancellationToken).ConfigureAwait(false);
            built.Add(new AppLayerBuild(part, blob, clock.Elapsed));
        }
        return built;
    }
}
