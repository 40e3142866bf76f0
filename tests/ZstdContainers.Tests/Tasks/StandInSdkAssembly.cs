using System.Reflection;
using System.Reflection.Emit;

namespace ZstdContainers.Tests.Tasks;

/// <summary>
/// Writes a stand-in for the SDK's container task assembly: types of the SDK's names whose public
/// settable properties are the ones given, the shape the preflight reads (nothing in it runs).
/// </summary>
public static class StandInSdkAssembly
{
    public const string Namespace = "Microsoft.NET.Build.Containers.Tasks";

    public static void Write(string path, IReadOnlyDictionary<string, IEnumerable<string>> tasks)
    {
        var assembly = new PersistedAssemblyBuilder(new AssemblyName("Microsoft.NET.Build.Containers"), typeof(object).Assembly);
        var module = assembly.DefineDynamicModule("Microsoft.NET.Build.Containers");
        foreach (var (task, parameters) in tasks)
        {
            var type = module.DefineType(Namespace + "." + task, TypeAttributes.Public | TypeAttributes.Class | TypeAttributes.Sealed, typeof(object));
            foreach (var name in parameters)
            {
                var field = type.DefineField("_" + name, typeof(string), FieldAttributes.Private);
                var property = type.DefineProperty(name, PropertyAttributes.None, typeof(string), null);
                const MethodAttributes accessor = MethodAttributes.Public | MethodAttributes.SpecialName | MethodAttributes.HideBySig;
                var getter = type.DefineMethod("get_" + name, accessor, typeof(string), Type.EmptyTypes);
                var il = getter.GetILGenerator();
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldfld, field);
                il.Emit(OpCodes.Ret);
                var setter = type.DefineMethod("set_" + name, accessor, null, [typeof(string)]);
                il = setter.GetILGenerator();
                il.Emit(OpCodes.Ldarg_0);
                il.Emit(OpCodes.Ldarg_1);
                il.Emit(OpCodes.Stfld, field);
                il.Emit(OpCodes.Ret);
                property.SetGetMethod(getter);
                property.SetSetMethod(setter);
            }
            type.CreateType();
        }
        assembly.Save(path);
    }
}
