using System.ComponentModel;
using System.Diagnostics;
using System.Text;

namespace ZstdContainers.Processes;

/// <summary>
/// Runs commands as real child processes: inherited environment plus the request's overrides,
/// stdin fed by the request's writer while stdout and stderr are drained concurrently (so neither
/// side can block the other), and the whole process tree killed on cancellation.
/// </summary>
public sealed class ProcessCommandRunner : ICommandRunner
{
    public static readonly ProcessCommandRunner Instance = new();

    private static readonly TimeSpan ExitAfterKillTimeout = TimeSpan.FromSeconds(10);

    public async Task<CommandResult> RunAsync(CommandRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        cancellationToken.ThrowIfCancellationRequested();

        var startInfo = new ProcessStartInfo(request.FileName)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
            CreateNoWindow = true,
        };
        foreach (var argument in request.Arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }
        if (request.Environment is { } environment)
        {
            foreach (var (name, value) in environment)
            {
                if (value is null)
                {
                    startInfo.Environment.Remove(name);
                }
                else
                {
                    startInfo.Environment[name] = value;
                }
            }
        }

        using var process = new Process { StartInfo = startInfo };
        try
        {
            process.Start();
        }
        catch (Win32Exception e)
        {
            return CommandResult.NotStarted($"'{request.FileName}' could not be started: {e.Message}");
        }

        var stdout = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
        var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
        Exception? standardInputError = null;

        using (cancellationToken.Register(static p => Kill((Process)p!), process))
        {
            try
            {
                if (request.StandardInput is { } writeStandardInput)
                {
                    var stdin = new StandardInputStream(process.StandardInput.BaseStream);
                    try
                    {
                        await writeStandardInput(stdin, cancellationToken).ConfigureAwait(false);
                        await stdin.FlushAsync(cancellationToken).ConfigureAwait(false);
                    }
                    catch (StandardInputClosedException e) when (!cancellationToken.IsCancellationRequested)
                    {
                        standardInputError = e.InnerException ?? e;
                    }
                }
                CloseQuietly(process.StandardInput);
                await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                // Cancelled, or the stdin writer failed on its own (e.g. a blob that does not match
                // its digest): the tool must not go on with a partial input.
                Kill(process);
                CloseQuietly(process.StandardInput);
                await WaitForExitQuietlyAsync(process).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested && e is not OperationCanceledException)
                {
                    // Killing the process on cancellation breaks the pipe under the writer; report
                    // the cancellation, not its side effect.
                    throw new OperationCanceledException($"'{request.DisplayText}' was cancelled.", e, cancellationToken);
                }
                throw;
            }
        }

        return new CommandResult
        {
            Started = true,
            ExitCode = process.ExitCode,
            StandardOutput = await stdout.ConfigureAwait(false),
            StandardError = await stderr.ConfigureAwait(false),
            StandardInputError = standardInputError,
        };
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
        catch (Win32Exception)
        {
            // exiting while we tried; nothing left to kill
        }
    }

    private static void CloseQuietly(StreamWriter stdin)
    {
        try
        {
            stdin.Close();
        }
        catch (IOException)
        {
            // the reader is gone; nothing to flush to
        }
    }

    private static async Task WaitForExitQuietlyAsync(Process process)
    {
        using var timeout = new CancellationTokenSource(ExitAfterKillTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // a process that survives SIGKILL for 10 s is the kernel's business now
        }
    }

    /// <summary>Marks a failed write to the child's stdin, so it is told apart from the writer's own I/O errors.</summary>
    private sealed class StandardInputClosedException(IOException inner)
        : IOException("The process stopped reading its standard input.", inner);

    /// <summary>Passes writes to the child's stdin and turns their I/O failures into <see cref="StandardInputClosedException"/>.</summary>
    private sealed class StandardInputStream(Stream inner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            try
            {
                inner.Write(buffer);
            }
            catch (IOException e)
            {
                throw new StandardInputClosedException(e);
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            try
            {
                await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new StandardInputClosedException(e);
            }
        }

        public override void Flush()
        {
            try
            {
                inner.Flush();
            }
            catch (IOException e)
            {
                throw new StandardInputClosedException(e);
            }
        }

        public override async Task FlushAsync(CancellationToken cancellationToken)
        {
            try
            {
                await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (IOException e)
            {
                throw new StandardInputClosedException(e);
            }
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
