using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>What the proxy does with one request.</summary>
public abstract record FaultAction
{
    /// <summary>Forward it and its response.</summary>
    public static readonly FaultAction Pass = new PassAction();

    /// <summary>Answer it here (the body is read and dropped first), never reaching the registry.</summary>
    public static FaultAction Respond(int status, params (string Name, string Value)[] headers) => new RespondAction(status, headers);

    /// <summary>Forward the head and the first <paramref name="bytes"/> bytes of the body, then reset both connections.</summary>
    public static FaultAction CutAfter(long bytes) => new CutAction(bytes);

    /// <summary>Forward the head and the first <paramref name="bytes"/> bytes of the body, then stop reading until disposed.</summary>
    public static FaultAction StallAfter(long bytes) => new StallAction(bytes);

    /// <summary>Hold the request this long (reading none of its body), then forward it.</summary>
    public static FaultAction DelayThenPass(TimeSpan delay) => new DelayAction(delay);

    internal sealed record PassAction : FaultAction;

    internal sealed record DelayAction(TimeSpan Delay) : FaultAction;

    internal sealed record RespondAction(int Status, (string Name, string Value)[] Headers) : FaultAction;

    internal sealed record CutAction(long Bytes) : FaultAction;

    internal sealed record StallAction(long Bytes) : FaultAction;
}

/// <summary>One request as the proxy saw it.</summary>
public sealed record ProxiedRequest(int Number, string Method, string Path, string Query, long? ContentLength, bool Chunked, string? ContentRange)
{
    /// <summary>The digest=… of the query (a monolithic upload or the closing PUT of a chunked one).</summary>
    public string? Digest =>
        Query.TrimStart('?').Split('&').Where(p => p.StartsWith("digest=", StringComparison.Ordinal))
            .Select(p => Uri.UnescapeDataString(p["digest=".Length..])).FirstOrDefault();

    public bool IsBlobUploadBody =>
        (Method is "PUT" or "PATCH") && Path.Contains("/blobs/uploads/", StringComparison.Ordinal) && (ContentLength > 0 || Chunked);

    public bool IsManifestPut => Method == "PUT" && Path.Contains("/manifests/", StringComparison.Ordinal);

    /// <summary>The Authorization header the client sent, if any (to check where credentials went).</summary>
    public string? Authorization { get; init; }
}

/// <summary>What happened to one request: the action taken and, when forwarded, the registry's status.</summary>
public sealed record ProxyEvent(ProxiedRequest Request, string Action, int? Status, TimeSpan At);

/// <summary>
/// An HTTP/1.1-aware TCP proxy on 127.0.0.1 in front of a test registry, that injects faults per request:
/// canned error responses (500, 429 with Retry-After), connections reset part-way through a body, bodies that
/// stall. It parses just enough HTTP (request and response heads, Content-Length and chunked bodies) to know where
/// each request starts. Bounded: at most <see cref="MaxConnections"/> connections at once, each idle at most
/// <see cref="IdleTimeout"/>; Dispose stops everything.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    public const int MaxConnections = 64;
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(120);

    private const int MaxHeadBytes = 64 * 1024;

    private readonly TcpListener _listener;
    private readonly IPEndPoint _upstream;
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _slots = new(MaxConnections);
    private readonly ConcurrentDictionary<int, Task> _connections = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task _acceptLoop;
    private int _requestNumber;
    private int _connectionNumber;

    /// <param name="listenAddress">A loopback address to listen on (default 127.0.0.1; 127.0.0.2 is "another host" to a client).</param>
    public FaultProxy(IPEndPoint upstream, Func<ProxiedRequest, FaultAction>? policy = null, IPAddress? listenAddress = null)
    {
        listenAddress ??= IPAddress.Loopback;
        if (!IPAddress.IsLoopback(upstream.Address) || !IPAddress.IsLoopback(listenAddress))
        {
            throw new ArgumentException("The fault proxy only listens on and forwards to loopback addresses.", nameof(upstream));
        }
        _upstream = upstream;
        Policy = policy ?? (_ => FaultAction.Pass);
        _listener = new TcpListener(listenAddress, 0);
        _listener.Start();
        ListenAddress = listenAddress;
        Port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public IPAddress ListenAddress { get; }

    public int Port { get; }

    /// <summary>"address:port", as ContainerRegistry takes it.</summary>
    public string Address => $"{ListenAddress}:{Port}";

    /// <summary>Rewrites the Location header of the registry's responses (a TLS proxy or a hostile registry's doing); null keeps it.</summary>
    public Func<string, string>? RewriteLocation { get; set; }

    /// <summary>Decides per request; may be swapped between publishes. Called concurrently: keep it thread-safe.</summary>
    public Func<ProxiedRequest, FaultAction> Policy { get; set; }

    public ConcurrentQueue<ProxyEvent> Events { get; } = new();

    /// <summary>Set when a StallAfter action has forwarded its bytes and stopped reading.</summary>
    public TaskCompletionSource Stalled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public IReadOnlyList<ProxyEvent> EventList => [.. Events];

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                await _slots.WaitAsync(_stop.Token);
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                _slots.Release();
                continue;
            }
            var id = Interlocked.Increment(ref _connectionNumber);
            _connections[id] = Task.Run(async () =>
            {
                try
                {
                    await HandleConnectionAsync(client);
                }
                catch (Exception)
                {
                    // A broken connection is what this proxy is for; the client sees it.
                }
                finally
                {
                    client.Dispose();
                    _slots.Release();
                    _connections.TryRemove(id, out _);
                }
            });
        }
    }

    private async Task HandleConnectionAsync(TcpClient client)
    {
        client.NoDelay = true;
        var clientReader = new HttpReader(client.GetStream());
        TcpClient? upstream = null;
        HttpReader? upstreamReader = null;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                using var idle = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                idle.CancelAfter(IdleTimeout);
                var head = await clientReader.ReadHeadAsync(idle.Token);
                if (head is null)
                {
                    return;
                }
                var (requestLine, headers) = ParseHead(head);
                var parts = requestLine.Split(' ');
                if (parts.Length != 3)
                {
                    return;
                }
                var method = parts[0];
                var target = parts[1];
                var queryStart = target.IndexOf('?');
                var path = queryStart < 0 ? target : target[..queryStart];
                var query = queryStart < 0 ? string.Empty : target[queryStart..];
                var contentLength = HeaderValue(headers, "Content-Length") is { } cl && long.TryParse(cl, out var n) ? n : (long?)null;
                var chunked = HeaderValue(headers, "Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true;
                var request = new ProxiedRequest(Interlocked.Increment(ref _requestNumber), method, path, query, contentLength, chunked, HeaderValue(headers, "Content-Range"))
                {
                    Authorization = HeaderValue(headers, "Authorization"),
                };
                FaultAction action;
                try
                {
                    action = Policy(request);
                }
                catch (Exception)
                {
                    action = FaultAction.Pass;
                }

                if (action is FaultAction.RespondAction respond)
                {
                    await CopyBodyAsync(clientReader, null, contentLength, chunked, long.MaxValue, idle.Token);
                    await WriteResponseAsync(client.GetStream(), method, respond, idle.Token);
                    Record(request, $"respond {respond.Status}", respond.Status);
                    continue;
                }

                if (action is FaultAction.DelayAction delay)
                {
                    await Task.Delay(delay.Delay, idle.Token);
                }

                if (upstream is null)
                {
                    upstream = new TcpClient { NoDelay = true };
                    await upstream.ConnectAsync(_upstream, idle.Token);
                    upstreamReader = new HttpReader(upstream.GetStream());
                }
                var upstreamStream = upstream.GetStream();
                // No Expect: 100-continue (the proxy sends the whole body before reading the response).
                var forwardedHead = requestLine + "\r\n" + string.Concat(headers
                    .Where(h => !h.Name.Equals("Expect", StringComparison.OrdinalIgnoreCase))
                    .Select(h => $"{h.Name}: {h.Value}\r\n")) + "\r\n";
                await upstreamStream.WriteAsync(Encoding.Latin1.GetBytes(forwardedHead), idle.Token);

                switch (action)
                {
                    case FaultAction.CutAction cut:
                        await CopyBodyAsync(clientReader, upstreamStream, contentLength, chunked, cut.Bytes, idle.Token);
                        Record(request, $"cut after {cut.Bytes} bytes", null);
                        Reset(client);
                        Reset(upstream);
                        return;
                    case FaultAction.StallAction stall:
                        await CopyBodyAsync(clientReader, upstreamStream, contentLength, chunked, stall.Bytes, idle.Token);
                        Record(request, $"stalled after {stall.Bytes} bytes", null);
                        Stalled.TrySetResult();
                        await Task.Delay(Timeout.Infinite, idle.Token).ContinueWith(_ => { }, TaskScheduler.Default);
                        Reset(client);
                        Reset(upstream);
                        return;
                }

                var bodySent = true;
                try
                {
                    await CopyBodyAsync(clientReader, upstreamStream, contentLength, chunked, long.MaxValue, idle.Token);
                    await upstreamStream.FlushAsync(idle.Token);
                }
                catch (IOException)
                {
                    // The registry answered before reading the whole body (a 401 for an expired token, say) and
                    // closed: forward its answer if it sent one, then close, as the rest of the body is unread.
                    bodySent = false;
                }

                // The response: interim 1xx heads are forwarded as they come, then the final one and its body.
                // (After a failed body, the answer is there at once or not at all: the failure may have been the client's.)
                using var answer = CancellationTokenSource.CreateLinkedTokenSource(idle.Token);
                if (!bodySent)
                {
                    answer.CancelAfter(TimeSpan.FromSeconds(5));
                }
                string responseHead;
                int status;
                List<(string Name, string Value)> responseHeaders;
                while (true)
                {
                    responseHead = await upstreamReader!.ReadHeadAsync(answer.Token) ?? throw new IOException("the registry closed the connection");
                    (var statusLine, responseHeaders) = ParseHead(responseHead);
                    status = int.Parse(statusLine.Split(' ')[1]);
                    if (RewriteLocation is { } rewrite && HeaderValue(responseHeaders, "Location") is { } location && rewrite(location) is var rewritten && rewritten != location)
                    {
                        responseHead = responseHead.Replace("\r\nLocation: " + location + "\r\n", "\r\nLocation: " + rewritten + "\r\n", StringComparison.OrdinalIgnoreCase);
                    }
                    await client.GetStream().WriteAsync(Encoding.Latin1.GetBytes(responseHead), idle.Token);
                    if (status >= 200)
                    {
                        break;
                    }
                }
                Record(request, (action is FaultAction.DelayAction d ? $"pass after {d.Delay.TotalSeconds:0.0} s" : "pass") + (bodySent ? string.Empty : ", answered early"), status);
                var responseLength = HeaderValue(responseHeaders, "Content-Length") is { } rl && long.TryParse(rl, out var m) ? m : (long?)null;
                var responseChunked = HeaderValue(responseHeaders, "Transfer-Encoding")?.Contains("chunked", StringComparison.OrdinalIgnoreCase) == true;
                var close = HeaderValue(responseHeaders, "Connection")?.Contains("close", StringComparison.OrdinalIgnoreCase) == true;
                if (method == "HEAD" || status is 204 or 304)
                {
                    // no body
                }
                else if (responseLength is null && !responseChunked)
                {
                    await CopyBodyAsync(upstreamReader, client.GetStream(), null, false, long.MaxValue, idle.Token, untilClose: true);
                    return;
                }
                else
                {
                    await CopyBodyAsync(upstreamReader, client.GetStream(), responseLength, responseChunked, long.MaxValue, idle.Token);
                }
                await client.GetStream().FlushAsync(idle.Token);
                if (close || !bodySent)
                {
                    return;
                }
            }
        }
        finally
        {
            upstream?.Dispose();
        }
    }

    private void Record(ProxiedRequest request, string action, int? status) =>
        Events.Enqueue(new ProxyEvent(request, action, status, _clock.Elapsed));

    private static void Reset(TcpClient client)
    {
        try
        {
            client.Client.LingerState = new LingerOption(true, 0); // RST, not FIN: a dropped connection
            client.Client.Close();
        }
        catch (Exception)
        {
        }
    }

    private static async Task WriteResponseAsync(Stream stream, string method, FaultAction.RespondAction respond, CancellationToken ct)
    {
        var body = method == "HEAD" ? [] : Encoding.UTF8.GetBytes(
            $$"""{"errors":[{"code":"{{(respond.Status == 429 ? "TOOMANYREQUESTS" : "UNKNOWN")}}","message":"injected by the test proxy"}]}""");
        var head = new StringBuilder($"HTTP/1.1 {respond.Status} {Reason(respond.Status)}\r\n");
        head.Append("Content-Type: application/json\r\n");
        head.Append($"Content-Length: {(method == "HEAD" ? 0 : body.Length)}\r\n");
        foreach (var (name, value) in respond.Headers)
        {
            head.Append($"{name}: {value}\r\n");
        }
        head.Append("\r\n");
        await stream.WriteAsync(Encoding.Latin1.GetBytes(head.ToString()), ct);
        await stream.WriteAsync(body, ct);
        await stream.FlushAsync(ct);
    }

    private static string Reason(int status) => status switch
    {
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        _ => "Injected",
    };

    /// <summary>
    /// Copies one body (Content-Length, chunked with its framing, or until the peer closes) from
    /// <paramref name="from"/> to <paramref name="to"/> (null: read and drop), stopping after
    /// <paramref name="limit"/> bytes. Returns the bytes copied.
    /// </summary>
    private static async Task<long> CopyBodyAsync(HttpReader from, Stream? to, long? length, bool chunked, long limit, CancellationToken ct, bool untilClose = false)
    {
        var buffer = new byte[64 * 1024];
        long copied = 0;

        async Task<bool> CopyExactAsync(long count)
        {
            while (count > 0)
            {
                if (copied >= limit)
                {
                    return false;
                }
                var want = (int)Math.Min(Math.Min(buffer.Length, count), limit - copied);
                var read = await from.ReadAsync(buffer.AsMemory(0, want), ct);
                if (read == 0)
                {
                    throw new IOException("the peer closed the connection mid-body");
                }
                if (to is not null)
                {
                    await to.WriteAsync(buffer.AsMemory(0, read), ct);
                }
                copied += read;
                count -= read;
            }
            return true;
        }

        async Task<bool> CopyLineAsync()
        {
            var line = await from.ReadLineAsync(ct) ?? throw new IOException("the peer closed the connection mid-body");
            var bytes = Encoding.Latin1.GetBytes(line + "\r\n");
            if (to is not null)
            {
                await to.WriteAsync(bytes, ct);
            }
            return true;
        }

        if (untilClose)
        {
            while (true)
            {
                var read = await from.ReadAsync(buffer, ct);
                if (read == 0)
                {
                    return copied;
                }
                await to!.WriteAsync(buffer.AsMemory(0, read), ct);
                copied += read;
            }
        }
        if (chunked)
        {
            while (true)
            {
                var sizeLine = await from.ReadLineAsync(ct) ?? throw new IOException("the peer closed the connection mid-body");
                if (to is not null)
                {
                    await to.WriteAsync(Encoding.Latin1.GetBytes(sizeLine + "\r\n"), ct);
                }
                var size = Convert.ToInt64(sizeLine.Split(';')[0].Trim(), 16);
                if (size == 0)
                {
                    // trailers, then an empty line
                    while (true)
                    {
                        var trailer = await from.ReadLineAsync(ct) ?? throw new IOException("the peer closed the connection mid-body");
                        if (to is not null)
                        {
                            await to.WriteAsync(Encoding.Latin1.GetBytes(trailer + "\r\n"), ct);
                        }
                        if (trailer.Length == 0)
                        {
                            return copied;
                        }
                    }
                }
                if (!await CopyExactAsync(size))
                {
                    return copied;
                }
                await CopyLineAsync();
            }
        }
        if (length is { } total)
        {
            await CopyExactAsync(total);
        }
        return copied;
    }

    private static (string StartLine, List<(string Name, string Value)> Headers) ParseHead(string head)
    {
        var lines = head.Split("\r\n");
        var headers = new List<(string, string)>();
        foreach (var line in lines.Skip(1))
        {
            if (line.Length == 0)
            {
                continue;
            }
            var colon = line.IndexOf(':');
            if (colon > 0)
            {
                headers.Add((line[..colon].Trim(), line[(colon + 1)..].Trim()));
            }
        }
        return (lines[0], headers);
    }

    private static string? HeaderValue(List<(string Name, string Value)> headers, string name) =>
        headers.Where(h => h.Name.Equals(name, StringComparison.OrdinalIgnoreCase)).Select(h => h.Value).FirstOrDefault();

    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        _listener.Stop();
        try
        {
            await _acceptLoop.WaitAsync(TimeSpan.FromSeconds(5));
            await Task.WhenAll(_connections.Values).WaitAsync(TimeSpan.FromSeconds(5));
        }
        catch (Exception)
        {
        }
        _stop.Dispose();
    }

    /// <summary>A buffered reader that hands out HTTP heads and lines, then raw bytes.</summary>
    private sealed class HttpReader(Stream stream)
    {
        private readonly byte[] _buffer = new byte[64 * 1024];
        private int _start;
        private int _end;

        /// <summary>The head up to and including the empty line, or null when the peer closed before sending one.</summary>
        public async Task<string?> ReadHeadAsync(CancellationToken ct)
        {
            var head = new StringBuilder();
            while (true)
            {
                var line = await ReadLineAsync(ct);
                if (line is null)
                {
                    return head.Length == 0 ? null : throw new IOException("the peer closed the connection mid-head");
                }
                if (line.Length == 0 && head.Length == 0)
                {
                    continue; // a stray CRLF between messages
                }
                head.Append(line).Append("\r\n");
                if (line.Length == 0)
                {
                    return head.ToString();
                }
                if (head.Length > MaxHeadBytes)
                {
                    throw new IOException("head too large");
                }
            }
        }

        /// <summary>One line without its CRLF; null at end of stream.</summary>
        public async Task<string?> ReadLineAsync(CancellationToken ct)
        {
            var line = new List<byte>();
            while (true)
            {
                if (_start == _end && !await FillAsync(ct))
                {
                    return line.Count == 0 ? null : Encoding.Latin1.GetString([.. line]);
                }
                var b = _buffer[_start++];
                if (b == '\n')
                {
                    if (line.Count > 0 && line[^1] == '\r')
                    {
                        line.RemoveAt(line.Count - 1);
                    }
                    return Encoding.Latin1.GetString([.. line]);
                }
                line.Add(b);
                if (line.Count > MaxHeadBytes)
                {
                    throw new IOException("line too long");
                }
            }
        }

        public async ValueTask<int> ReadAsync(Memory<byte> destination, CancellationToken ct)
        {
            if (_start == _end && !await FillAsync(ct))
            {
                return 0;
            }
            var n = Math.Min(destination.Length, _end - _start);
            _buffer.AsMemory(_start, n).CopyTo(destination);
            _start += n;
            return n;
        }

        private async ValueTask<bool> FillAsync(CancellationToken ct)
        {
            _start = 0;
            _end = await stream.ReadAsync(_buffer, ct);
            return _end > 0;
        }
    }
}
