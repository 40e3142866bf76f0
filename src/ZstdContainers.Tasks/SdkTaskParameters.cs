using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace ZstdContainers.Tasks;

/// <summary>
/// The parameters of the SDK's image tasks, read from its task assembly's metadata with
/// System.Reflection.Metadata: nothing is loaded or run, so any SDK's assembly can be read, even
/// one built for a runtime this process does not have.
/// </summary>
internal static class SdkTaskParameters
{
    public const string SdkNamespace = "Microsoft.NET.Build.Containers.Tasks";

    /// <summary>
    /// For each of <paramref name="typeNames"/> (names in <see cref="SdkNamespace"/>) the assembly
    /// defines, the names of its public instance properties with a public setter — the names MSBuild
    /// can bind — including those of base types defined in the same assembly. Types it lacks are left out.
    /// </summary>
    public static Dictionary<string, SortedSet<string>> Read(string assemblyPath, IEnumerable<string> typeNames)
    {
        using var stream = File.OpenRead(assemblyPath);
        using var pe = new PEReader(stream);
        var reader = pe.GetMetadataReader();
        var wanted = typeNames.ToHashSet(StringComparer.Ordinal);
        var found = new Dictionary<string, SortedSet<string>>(StringComparer.Ordinal);
        foreach (var handle in reader.TypeDefinitions)
        {
            var type = reader.GetTypeDefinition(handle);
            var name = reader.GetString(type.Name);
            if (reader.GetString(type.Namespace) == SdkNamespace && wanted.Contains(name))
            {
                var parameters = new SortedSet<string>(StringComparer.Ordinal);
                Collect(reader, type, parameters);
                found[name] = parameters;
            }
        }
        return found;
    }

    /// <summary>What MSBuild can bind on one of our task types, by the same rule.</summary>
    public static SortedSet<string> Of(Type taskType) =>
        new(taskType.GetProperties(BindingFlags.Public | BindingFlags.Instance)
            .Where(p => p.SetMethod is { IsPublic: true })
            .Select(p => p.Name), StringComparer.Ordinal);

    private static void Collect(MetadataReader reader, TypeDefinition type, SortedSet<string> parameters)
    {
        foreach (var handle in type.GetProperties())
        {
            var property = reader.GetPropertyDefinition(handle);
            var setter = property.GetAccessors().Setter;
            if (setter.IsNil)
            {
                continue;
            }
            var attributes = reader.GetMethodDefinition(setter).Attributes;
            if ((attributes & MethodAttributes.MemberAccessMask) == MethodAttributes.Public && (attributes & MethodAttributes.Static) == 0)
            {
                parameters.Add(reader.GetString(property.Name));
            }
        }
        // A base class in the same assembly adds its parameters; one outside it (MSBuild's Task,
        // ToolTask) has members both tasks inherit alike.
        if (type.BaseType.Kind == HandleKind.TypeDefinition)
        {
            Collect(reader, reader.GetTypeDefinition((TypeDefinitionHandle)type.BaseType), parameters);
        }
    }
}
