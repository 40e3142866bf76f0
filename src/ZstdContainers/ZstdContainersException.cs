namespace ZstdContainers;

/// <summary>
/// An expected failure: carries a stable ZSTDCnnnn code and a sentence that says what failed,
/// why, and what to do. The task layer logs it as an MSBuild error without a stack trace.
/// </summary>
public sealed class ZstdContainersException : Exception
{
    public ZstdContainersException(string code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public string Code { get; }
}
