using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ZstdContainers.Oci;

namespace ZstdContainers.Building;

/// <summary>
/// Builds the new image config from the base image's config and what the SDK computed for the
/// project, following the SDK's own rules (so a project gets the same Env, Entrypoint, Cmd,
/// WorkingDir, User, ports and labels whichever compression it uses). A pure function: the same
/// inputs give the same JSON.
/// </summary>
public static partial class ContainerConfigComposer
{
    public const string BaseDigestLabel = "org.opencontainers.image.base.digest";

    /// <param name="baseConfig">The base image's config JSON.</param>
    /// <param name="baseManifestDigest">Digest of the base's platform manifest (for the base digest label).</param>
    /// <param name="addedDiffIds">diff_ids of the layers we add on top of the base (the app layer).</param>
    /// <param name="created">The image's creation time (SOURCE_DATE_EPOCH when set).</param>
    /// <param name="historyCreatedBy">The created_by text of the history entries we add.</param>
    public static JsonObject Compose(
        JsonObject baseConfig,
        ImageRequest request,
        Digest baseManifestDigest,
        IReadOnlyList<Digest> addedDiffIds,
        DateTimeOffset created,
        string historyCreatedBy,
        IBuildLog log) =>
        Compose(baseConfig, request, baseManifestDigest, addedDiffIds, created, [.. addedDiffIds.Select(_ => historyCreatedBy)], log);

    /// <param name="historyCreatedBy">One created_by text per added layer (what it holds), in layer order.</param>
    public static JsonObject Compose(
        JsonObject baseConfig,
        ImageRequest request,
        Digest baseManifestDigest,
        IReadOnlyList<Digest> addedDiffIds,
        DateTimeOffset created,
        IReadOnlyList<string> historyCreatedBy,
        IBuildLog log)
    {
        if (historyCreatedBy.Count != addedDiffIds.Count)
        {
            throw new ArgumentException("One history entry per added layer.", nameof(historyCreatedBy));
        }
        var baseInner = baseConfig["config"] as JsonObject ?? new JsonObject();

        var env = ComposeEnv(baseInner, request);
        var entry = EntrypointPathCheck.Apply(
            EntrypointRules.Decide(request, Strings(baseInner["Entrypoint"]), log), request.PublishDirectory, request.WorkingDirectory, log);
        var inner = new JsonObject();
        var ports = ComposePorts(baseInner, request, env);
        if (ports.Count > 0)
        {
            inner["ExposedPorts"] = new JsonObject(ports.Select(p => KeyValuePair.Create<string, JsonNode?>(p, new JsonObject())));
        }
        var labels = ComposeLabels(baseInner, request, baseManifestDigest, created);
        if (labels.Count > 0)
        {
            inner["Labels"] = new JsonObject(labels.Select(l => KeyValuePair.Create<string, JsonNode?>(l.Key, JsonValue.Create(l.Value))));
        }
        if (env.Count > 0)
        {
            inner["Env"] = new JsonArray([.. env.Select(e => (JsonNode?)JsonValue.Create(e.Key + "=" + e.Value))]);
        }
        inner["WorkingDir"] = request.WorkingDirectory;
        if (entry.Entrypoint.Count > 0)
        {
            inner["Entrypoint"] = new JsonArray([.. entry.Entrypoint.Select(s => (JsonNode?)JsonValue.Create(s))]);
        }
        if (entry.Cmd.Count > 0)
        {
            inner["Cmd"] = new JsonArray([.. entry.Cmd.Select(s => (JsonNode?)JsonValue.Create(s))]);
        }
        var user = ComposeUser(baseInner, request, env);
        if (user is not null)
        {
            inner["User"] = user;
        }
        foreach (var kept in new[] { "Volumes", "StopSignal" })
        {
            if (baseInner[kept] is { } node)
            {
                inner[kept] = node.DeepClone();
            }
        }

        var config = new JsonObject
        {
            ["config"] = inner,
            ["created"] = FormatTime(created),
            ["rootfs"] = ComposeRootfs(baseConfig, addedDiffIds),
            ["architecture"] = RequiredString(baseConfig, "architecture"),
            ["os"] = RequiredString(baseConfig, "os"),
        };
        if (baseConfig["variant"] is JsonValue variant && variant.TryGetValue<string>(out var v) && v.Length > 0)
        {
            config["variant"] = v;
        }
        config["history"] = ComposeHistory(baseConfig, created, historyCreatedBy);
        return config;
    }

    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture);

    private static List<KeyValuePair<string, string>> ComposeEnv(JsonObject baseInner, ImageRequest request)
    {
        var env = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var line in Strings(baseInner["Env"]))
        {
            var eq = line.IndexOf('=');
            if (eq > 0)
            {
                env[line[..eq]] = line[(eq + 1)..];
            }
        }
        foreach (var (name, value) in request.EnvironmentVariables)
        {
            env[name] = value;
        }
        return [.. env];
    }

    /// <summary>Base ports, then the project's, then those ASP.NET Core will listen on per the final Env.</summary>
    private static List<string> ComposePorts(JsonObject baseInner, ImageRequest request, List<KeyValuePair<string, string>> env)
    {
        var ports = new List<string>();
        void Add(int number, string type)
        {
            var key = number.ToString(CultureInfo.InvariantCulture) + "/" + type;
            if (!ports.Contains(key))
            {
                ports.Add(key);
            }
        }

        if (baseInner["ExposedPorts"] is JsonObject basePorts)
        {
            foreach (var (key, value) in basePorts)
            {
                var parts = key.Split('/');
                if (value is JsonObject && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                    && (parts.Length == 1 || parts[1] is "tcp" or "udp"))
                {
                    Add(n, parts.Length == 1 ? "tcp" : parts[1]);
                }
            }
        }
        foreach (var port in request.ExposedPorts)
        {
            Add(port.Number, port.Type);
        }

        var lookup = env.ToDictionary(e => e.Key, e => e.Value, StringComparer.Ordinal);
        if (lookup.TryGetValue("ASPNETCORE_URLS", out var urls))
        {
            foreach (var url in urls.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
            {
                var match = UrlPort().Match(url);
                if (match.Success && int.TryParse(match.Groups["port"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                {
                    Add(n, "tcp");
                }
            }
        }
        else
        {
            foreach (var name in new[] { "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS" })
            {
                if (lookup.TryGetValue(name, out var list))
                {
                    foreach (var part in list.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
                    {
                        if (int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                        {
                            Add(n, "tcp");
                        }
                    }
                }
            }
        }
        return ports;
    }

    /// <summary>
    /// Base labels, then the project's (only when label generation is on, as in the SDK), then the
    /// base digest label. The creation labels carry the image's creation time: generated here when
    /// asked (the .NET 11 contract), and pinned to it when SOURCE_DATE_EPOCH is set even if the
    /// caller passed a build-time value (SDK 10's targets do), so the epoch alone makes the image
    /// reproducible.
    /// </summary>
    private static OrderedDictionary<string, string> ComposeLabels(JsonObject baseInner, ImageRequest request, Digest baseManifestDigest, DateTimeOffset created)
    {
        var labels = new OrderedDictionary<string, string>(StringComparer.Ordinal);
        if (baseInner["Labels"] is JsonObject baseLabels)
        {
            foreach (var (key, value) in baseLabels)
            {
                if (value is JsonValue scalar && scalar.GetValueKind() is not System.Text.Json.JsonValueKind.Null)
                {
                    labels[key] = scalar.GetValueKind() == System.Text.Json.JsonValueKind.String ? scalar.GetValue<string>() : scalar.ToJsonString();
                }
            }
        }
        if (request.GenerateLabels)
        {
            var createdText = FormatTime(created);
            if (request.GenerateCreatedLabels)
            {
                foreach (var name in ImageAnnotations.CreatedLabelNames)
                {
                    labels[name] = createdText;
                }
            }
            var pinCreated = !string.IsNullOrWhiteSpace(request.SourceDateEpoch);
            foreach (var (key, value) in request.Labels)
            {
                labels[key] = pinCreated && ImageAnnotations.CreatedLabelNames.Contains(key) ? createdText : value;
            }
            if (request.GenerateDigestLabel)
            {
                labels[BaseDigestLabel] = baseManifestDigest.Value;
            }
        }
        return labels;
    }

    /// <summary>A user the project names wins; otherwise the base's APP_UID (Microsoft's non-root user); otherwise the base's User.</summary>
    private static string? ComposeUser(JsonObject baseInner, ImageRequest request, List<KeyValuePair<string, string>> env)
    {
        if (!string.IsNullOrWhiteSpace(request.User))
        {
            return request.User;
        }
        foreach (var (key, value) in env)
        {
            if (key == "APP_UID")
            {
                return value;
            }
        }
        return baseInner["User"] is JsonValue u && u.TryGetValue<string>(out var baseUser) ? baseUser : null;
    }

    private static JsonObject ComposeRootfs(JsonObject baseConfig, IReadOnlyList<Digest> addedDiffIds)
    {
        var diffIds = new JsonArray();
        if (baseConfig["rootfs"] is JsonObject rootfs && rootfs["type"]?.GetValue<string>() == "layers")
        {
            foreach (var id in Strings(rootfs["diff_ids"]))
            {
                diffIds.Add(id);
            }
        }
        foreach (var id in addedDiffIds)
        {
            diffIds.Add(id.Value);
        }
        return new JsonObject { ["type"] = "layers", ["diff_ids"] = diffIds };
    }

    /// <summary>The base history as it is, plus one entry per layer we add.</summary>
    private static JsonArray ComposeHistory(JsonObject baseConfig, DateTimeOffset created, IReadOnlyList<string> createdBy)
    {
        var history = new JsonArray();
        if (baseConfig["history"] is JsonArray baseHistory)
        {
            foreach (var item in baseHistory)
            {
                history.Add(item?.DeepClone());
            }
        }
        foreach (var entry in createdBy)
        {
            history.Add(new JsonObject
            {
                ["created"] = FormatTime(created),
                ["created_by"] = entry,
            });
        }
        return history;
    }

    private static string RequiredString(JsonObject config, string name) =>
        config[name] is JsonValue value && value.TryGetValue<string>(out var s) && s.Length > 0
            ? s
            : throw new ZstdContainersException(
                ErrorCodes.InvalidBaseConfig,
                $"The base image's config has no '{name}', so the image's platform cannot be stated. Use a base image built for a platform (its config must name architecture and os).");

    internal static List<string> Strings(JsonNode? node) =>
        node is JsonArray array
            ? [.. array.OfType<JsonValue>().Select(v => v.TryGetValue<string>(out var s) ? s : null).Where(s => !string.IsNullOrEmpty(s)).Select(s => s!)]
            : [];

    [GeneratedRegex(@"(?<scheme>\w+)://(?<domain>([*+]|).+):(?<port>\d+)")]
    private static partial Regex UrlPort();
}
