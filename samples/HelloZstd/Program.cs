var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();

app.MapGet("/", () => Results.Text($"Hello from a zstd container image! .NET {Environment.Version} on {System.Runtime.InteropServices.RuntimeInformation.OSDescription}\n"));
app.MapGet("/healthz", () => Results.Ok("healthy"));

app.Run();
