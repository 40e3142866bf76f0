using Microsoft.Build.Framework;

namespace ZstdContainers.Tasks;

/// <summary>
/// What every task of ours does around its call into the core library: cancellation from
/// MSBuild (Ctrl+C), and expected failures logged as coded errors without a stack trace.
/// </summary>
public abstract class CoreTask : Microsoft.Build.Utilities.Task, ICancelableTask
{
    private readonly CancellationTokenSource _cancellation = new();

    public void Cancel() => _cancellation.Cancel();

    public sealed override bool Execute()
    {
        var log = new TaskLog(Log);
        try
        {
            // MSBuild calls Execute synchronously; this is the one place we wait on the async core.
            RunAsync(log, _cancellation.Token).GetAwaiter().GetResult();
            return !Log.HasLoggedErrors;
        }
        catch (ZstdContainersException e)
        {
            TaskLog.Error(Log, e);
            return false;
        }
        catch (OperationCanceledException) when (_cancellation.IsCancellationRequested)
        {
            Log.LogWarning("ZstdContainers: cancelled. Blobs may have been uploaded, but no tag was moved.");
            return false;
        }
        catch (Exception e) when (Unwrap(e) is ZstdContainersException expected)
        {
            TaskLog.Error(Log, expected);
            return false;
        }
        catch (Exception e)
        {
            // A failure nobody planned for is a bug: one line that says so, the stack only for -v:detailed.
            TaskLog.Unexpected(Log, GetType().Name, Unwrap(e));
            return false;
        }
    }

    private static Exception Unwrap(Exception e) =>
        e is AggregateException { InnerExceptions.Count: 1 } aggregate ? Unwrap(aggregate.InnerExceptions[0]) : e;

    protected abstract System.Threading.Tasks.Task RunAsync(IBuildLog log, CancellationToken cancellationToken);
}
