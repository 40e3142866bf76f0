namespace ZstdContainers.Oci;

/// <summary>
/// An image in a registry: registry host[:port], repository, and a tag and/or a digest.
/// The SDK's targets have already split and normalised the user's text
/// (docker.io, library/ prefix), so this type only carries the parts.
/// </summary>
public sealed record ImageReference(string Registry, string Repository, string? Tag = null, string? Digest = null)
{
    /// <summary>The tag or digest to ask the registry for; the digest wins when both are given.</summary>
    public string Reference => Digest ?? Tag ?? "latest";

    public override string ToString() =>
        Registry + "/" + Repository + (Tag is null ? string.Empty : ":" + Tag) + (Digest is null ? string.Empty : "@" + Digest);
}
