using System.Reflection;
using System.Text.RegularExpressions;

namespace ZstdContainers;

/// <summary>
/// A setting of the user's that a message tells them to check or change. The core does not know
/// what a front end calls it (the MSBuild tasks call it by a property name), so interpolating one
/// into a message writes a placeholder — <c>$"set {UserSetting.RecompressBaseLayers}=false"</c> —
/// and the front end writes its own name in its place when it shows the message
/// (<see cref="Render"/>). A placeholder survives being quoted inside another message.
/// </summary>
public sealed partial class UserSetting
{
    public static readonly UserSetting BaseImage = new(nameof(BaseImage));
    public static readonly UserSetting Registry = new(nameof(Registry));
    public static readonly UserSetting Repository = new(nameof(Repository));
    public static readonly UserSetting ArchiveOutputPath = new(nameof(ArchiveOutputPath));
    public static readonly UserSetting LocalRuntime = new(nameof(LocalRuntime));
    public static readonly UserSetting RuntimeIdentifier = new(nameof(RuntimeIdentifier));
    public static readonly UserSetting RuntimeIdentifiers = new(nameof(RuntimeIdentifiers));
    public static readonly UserSetting LayerCompression = new(nameof(LayerCompression));
    public static readonly UserSetting RecompressBaseLayers = new(nameof(RecompressBaseLayers));
    public static readonly UserSetting LayerCacheDirectory = new(nameof(LayerCacheDirectory));
    public static readonly UserSetting Entrypoint = new(nameof(Entrypoint));
    public static readonly UserSetting EntrypointArgs = new(nameof(EntrypointArgs));
    public static readonly UserSetting DefaultArgs = new(nameof(DefaultArgs));
    public static readonly UserSetting AppCommand = new(nameof(AppCommand));
    public static readonly UserSetting AppCommandArgs = new(nameof(AppCommandArgs));
    public static readonly UserSetting AppCommandInstruction = new(nameof(AppCommandInstruction));

    private const string Opening = "{setting:";
    private const string Closing = "}";

    private UserSetting(string id) => Id = id;

    /// <summary>The core's own name for the setting (the name of its field here).</summary>
    public string Id { get; }

    /// <summary>Every setting a message can name, so a front end can check it names them all.</summary>
    public static IReadOnlyList<UserSetting> All { get; } = [.. typeof(UserSetting)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(f => f.FieldType == typeof(UserSetting))
        .Select(f => (UserSetting)f.GetValue(null)!)];

    /// <summary>The placeholder a message carries.</summary>
    public override string ToString() => Opening + Id + Closing;

    /// <summary>The settings <paramref name="text"/> names, in order of their first mention.</summary>
    public static IReadOnlyList<UserSetting> NamedIn(string text) =>
        [.. Placeholder().Matches(text).Select(m => Find(m.Groups["id"].Value)).OfType<UserSetting>().Distinct()];

    /// <summary>
    /// <paramref name="text"/> with every placeholder replaced by <paramref name="nameOf"/> the
    /// setting: what a front end shows its user.
    /// </summary>
    public static string Render(string text, Func<UserSetting, string> nameOf) =>
        !text.Contains(Opening, StringComparison.Ordinal) ? text : Placeholder().Replace(text, m => Find(m.Groups["id"].Value) is { } setting ? nameOf(setting) : m.Value);

    private static UserSetting? Find(string id) => All.FirstOrDefault(s => s.Id == id);

    [GeneratedRegex(@"\{setting:(?<id>[A-Za-z]+)\}")]
    private static partial Regex Placeholder();
}
