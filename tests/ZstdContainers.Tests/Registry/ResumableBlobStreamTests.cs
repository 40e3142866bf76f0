using System.Net;
using ZstdContainers.Layers;
using ZstdContainers.Registry;

namespace ZstdContainers.Tests.Registry;

/// <summary>The resumable download alone, over a scripted <see cref="IBlobReopener"/>: no registry, no client.</summary>
public sealed class ResumableBlobStreamTests
{
    /// <summary>A body that gives its bytes and then fails (or ends) after <c>failAfter</c> of them.</summary>
    private sealed class BreakingBody(byte[] bytes, int failAfter) : ForwardOnlyStream
    {
        private int _position;

        public override bool CanRead => true;

        public override int Read(Span<byte> buffer)
        {
            if (_position >= failAfter && failAfter < bytes.Length)
            {
                throw new IOException("connection reset");
            }
            var n = Math.Min(buffer.Length, Math.Min(bytes.Length, failAfter) - _position);
            bytes.AsSpan(_position, n).CopyTo(buffer);
            _position += n;
            return n;
        }
    }

    private static OpenedBlob Opened(byte[] bytes, int failAfter, long? length, long skip) =>
        new(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new BreakingBody(bytes, failAfter)) }, length, skip);

    private sealed class Reopener(Func<long, OpenedBlob> reopen) : IBlobReopener
    {
        public List<(long Position, int Failures)> Calls { get; } = [];

        public TimeSpan StallTimeout => TimeSpan.FromSeconds(10);

        public Task<OpenedBlob> ReopenAsync(long position, Exception error, int failures, CancellationToken ct)
        {
            Assert.IsType<IOException>(error);
            Calls.Add((position, failures));
            return Task.FromResult(reopen(position));
        }

        public ZstdContainersException PastLimit(long limit) => new(ErrorCodes.BlobLargerThanDescriptor, $"past {limit}");
    }

    private static readonly byte[] Blob = Enumerable.Range(0, 1000).Select(i => (byte)(i * 7)).ToArray();

    [Fact]
    public async Task A_broken_body_is_resumed_from_the_byte_reached_and_the_bytes_are_whole()
    {
        // The second answer is the whole blob again (a 200, not a 206): the stream skips what it delivered.
        var reopener = new Reopener(position => Opened(Blob, Blob.Length, Blob.Length, position));
        await using var stream = new ResumableBlobStream(reopener, Blob.Length, Opened(Blob, 300, Blob.Length, 0));
        using var copy = new MemoryStream();

        await stream.CopyToAsync(copy);

        Assert.Equal(Blob, copy.ToArray());
        Assert.Equal([(300L, 1)], reopener.Calls);
        Assert.Equal(Blob.Length, stream.Position);
    }

    [Fact]
    public async Task Bytes_beyond_the_descriptor_size_stop_the_download()
    {
        var reopener = new Reopener(_ => throw new InvalidOperationException("no resume expected"));
        await using var stream = new ResumableBlobStream(reopener, 600, Opened(Blob, Blob.Length, null, 0));

        var ex = await Assert.ThrowsAsync<ZstdContainersException>(() => stream.CopyToAsync(Stream.Null));

        Assert.Equal(ErrorCodes.BlobLargerThanDescriptor, ex.Code);
        Assert.Empty(reopener.Calls);
    }
}
