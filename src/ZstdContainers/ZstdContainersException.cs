namespace ZstdContainers;

/// <summary>
/// An expected failure: carries a stable ZSTDCnnnn code and a sentence that says what failed,
/// why, and what to do. The task layer logs it as an MSBuild error without a stack trace. The
/// settings it tells the user to change are placeholders (<see cref="UserSetting"/>), which the
/// task layer writes as MSBuild property names.
/// </summary>
public sealed class ZstdContainersException : Exception
{
    public ZstdContainersException(string code, string message, Exception? inner = null)
        : base(message, inner)
    {
        Code = code;
    }

    public string Code { get; }

    /// <summary>The settings the message names, by the core's names for them.</summary>
    public IReadOnlyList<UserSetting> Settings => UserSetting.NamedIn(Message);
}
