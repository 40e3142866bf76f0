namespace ZstdContainers.Building;

/// <summary>
/// Catches an Entrypoint or Cmd that names an app file the image does not have, so an image that
/// cannot start is caught at publish rather than at its first start. We know the app layer's files
/// (the publish folder lands under the working directory), so only paths under the working
/// directory are judged; anything else lives in the base image, which we do not list.
/// <para>
/// The case seen in the wild: SDK 10 joins a working directory without a trailing '/' and the app
/// file without one ("/srv/app" + "MyApp.dll" = "/srv/appMyApp.dll"). When the path with the '/'
/// restored is in the app layer, the corrected path is written and a warning says so.
/// </para>
/// </summary>
public static class EntrypointPathCheck
{
    public static EntrypointAndCmd Apply(EntrypointAndCmd entry, string publishDirectory, string workingDirectory, IBuildLog log)
    {
        var appDirectory = workingDirectory.Replace('\\', '/').TrimEnd('/');
        // A root working directory puts the app next to the base's files: nothing to judge by.
        if (appDirectory.Length == 0 || !appDirectory.StartsWith('/') || !Directory.Exists(publishDirectory))
        {
            return entry;
        }
        var layer = new AppLayerFiles(publishDirectory, appDirectory);
        return new EntrypointAndCmd(
            Check(entry.Entrypoint, "Entrypoint", layer, log),
            Check(entry.Cmd, "Cmd", layer, log));
    }

    private static List<string> Check(IReadOnlyList<string> arguments, string field, AppLayerFiles layer, IBuildLog log)
    {
        var checkedArguments = new List<string>(arguments.Count);
        foreach (var argument in arguments)
        {
            checkedArguments.Add(CheckOne(argument, field, layer, log));
        }
        return checkedArguments;
    }

    private static string CheckOne(string argument, string field, AppLayerFiles layer, IBuildLog log)
    {
        if (!argument.StartsWith(layer.AppDirectory, StringComparison.Ordinal) || argument.Length == layer.AppDirectory.Length)
        {
            return argument;
        }
        var rest = argument[layer.AppDirectory.Length..];
        if (rest.StartsWith('/'))
        {
            if (!layer.Contains(rest.TrimStart('/')))
            {
                log.Warning(
                    ErrorCodes.EntrypointFileMissing,
                    $"The image's {field} names '{argument}', but the app layer has no such file (the publish folder has no '{rest.TrimStart('/')}'), so the container will not start. Check the app command and the working directory '{layer.AppDirectory}/'.");
            }
            return argument;
        }
        if (!layer.Contains(rest))
        {
            return argument; // e.g. "/srv/application" next to "/srv/app": not ours to judge
        }
        var corrected = layer.AppDirectory + "/" + rest;
        log.Warning(
            ErrorCodes.EntrypointPathCorrected,
            $"The image's {field} named '{argument}', which does not exist: the working directory '{layer.AppDirectory}' was joined to '{rest}' without a '/'. Wrote '{corrected}' instead. Fix: end the working directory with '/' ('{layer.AppDirectory}/').");
        return corrected;
    }

    /// <summary>The files of the app layer: the publish folder, as it lands under the app directory.</summary>
    private sealed class AppLayerFiles(string publishDirectory, string appDirectory)
    {
        public string AppDirectory { get; } = appDirectory;

        public bool Contains(string relativePath)
        {
            if (relativePath.Length == 0 || relativePath.Split('/').Contains(".."))
            {
                return false;
            }
            var onDisk = Path.Combine(publishDirectory, relativePath.Replace('/', Path.DirectorySeparatorChar));
            return File.Exists(onDisk) || Directory.Exists(onDisk);
        }
    }
}
