using System.Net;

namespace ZstdContainers.IntegrationTests.Registry;

/// <summary>
/// Where the output registry's credentials go in a real publish (issue 9's "done when"): not to a base image's
/// registry elsewhere, whose token service records what it receives, and not to an upload location that a proxy
/// in front of the registry points at another loopback address.
/// </summary>
[Collection(RigCollection.Name)]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class CredentialScopeTests(PackageFixture package)
{
    private const string SharedUser = "DOTNET_CONTAINER_REGISTRY_UNAME";
    private const string SharedPassword = "DOTNET_CONTAINER_REGISTRY_PWORD";

    private static Task<RegistryServer> StartHtpasswdRegistryAsync(string name, string password) =>
        RegistryServer.StartAsync(name, new RegistryServer.Options
        {
            AuthSetup = async root =>
            {
                var file = Path.Combine(root, "htpasswd");
                await File.WriteAllTextAsync(file, await Htpasswd.LineAsync(RegistryTestKit.User, password) + "\n");
                return $"""
                      htpasswd:
                        realm: zc-test
                        path: {file}
                    """;
            },
        });

    [Fact]
    public async Task Base_image_on_a_second_registry_gets_none_of_the_output_registry_credentials()
    {
        var outputPassword = RegistryTestKit.NewSecret("zc-output-pw");
        var basePassword = RegistryTestKit.NewSecret("zc-base-pw");
        var directory = Directory.CreateTempSubdirectory("zc-scope-").FullName;
        try
        {
            // The base registry: token auth, anonymous pulls allowed (a public registry); its token service records
            // every request. The base image is copied there from the rig with its own user.
            using var issuer = new TokenIssuer(directory, RegistryTestKit.User, basePassword) { AnonymousPull = true };
            await using var baseRegistry = await RegistryServer.StartAsync("scope-base", new RegistryServer.Options { AuthYaml = issuer.AuthYaml });
            var baseImage = $"{baseRegistry.Address}/mirror/aspnet:10.0";
            (await Command.RunAsync("skopeo", [
                "copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false", "--dest-creds", $"{RegistryTestKit.User}:{basePassword}",
                "docker://" + Rig.BaseImage, "docker://" + baseImage], timeout: TimeSpan.FromMinutes(3))).EnsureSuccess("skopeo copy of the base image");
            issuer.Requests.Clear();

            // The output registry: htpasswd, reachable only with the DOTNET_CONTAINER_REGISTRY_* pair (what our CI samples set).
            await using var output = await StartHtpasswdRegistryAsync("scope-output", outputPassword);
            var project = await RegistryTestKit.SharedProjectAsync(package);

            var result = await RegistryTestKit.PublishAsync(project, output.Address, "it/scope", "v1",
                new Dictionary<string, string?>
                {
                    [SharedUser] = RegistryTestKit.User,
                    [SharedPassword] = outputPassword,
                    ["DOTNET_CONTAINER_INSECURE_REGISTRIES"] = $"{Rig.Registry},{baseRegistry.Address},{output.Address}",
                },
                "-p:ContainerBaseImage=" + baseImage, "-v:detailed");

            result.EnsureSuccess("publish with the base image on a second registry\n" + baseRegistry.Log);
            Assert.Contains($"Pushed {output.Address}/it/scope:v1", result.Output);
            var requests = issuer.Requests.ToList();
            Assert.NotEmpty(requests); // the base registry's token service was asked (anonymously)
            Assert.All(requests, r =>
            {
                Assert.Null(r.Authorization);
                Assert.Null(r.User);
                Assert.Null(r.Account);
                Assert.All(r.Scopes, s => Assert.EndsWith(":pull", s));
            });
            Assert.DoesNotContain(outputPassword, baseRegistry.Log);
            Assert.DoesNotContain(RegistryTestKit.BasicValue(RegistryTestKit.User, outputPassword), baseRegistry.Log);
            // and the output registry did get them: the image is there for the user only
            Assert.NotNull(await output.ManifestDigestAsync("it/scope", "v1", RegistryTestKit.BasicHeader(RegistryTestKit.User, outputPassword)));
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task Upload_locations_rewritten_to_another_loopback_address_receive_no_credentials()
    {
        var password = RegistryTestKit.NewSecret("zc-output-pw");
        await using var registry = await StartHtpasswdRegistryAsync("scope-location", password);
        // The collector is another host to the client (127.0.0.2); it forwards to the registry and records what it got.
        await using var collector = new FaultProxy(registry.EndPoint, listenAddress: IPAddress.Parse("127.0.0.2"));
        // The proxy in front of the registry points every upload location at the collector.
        await using var front = new FaultProxy(registry.EndPoint)
        {
            RewriteLocation = location =>
            {
                if (!location.Contains("/blobs/uploads/", StringComparison.Ordinal))
                {
                    return location;
                }
                var path = location.StartsWith('/') ? location : new Uri(location).PathAndQuery;
                return $"http://{collector.Address}{path}";
            },
        };
        var project = await RegistryTestKit.SharedProjectAsync(package);

        var result = await RegistryTestKit.PublishAsync(project, front.Address, "it/scope-location", "v1",
            new Dictionary<string, string?> { [SharedUser] = RegistryTestKit.User, [SharedPassword] = password });

        // The collector forwards unauthenticated requests, so the registry answers them 401; that challenge comes
        // from a host that is not the registry and is not answered.
        RegistryTestKit.AssertCleanFailure(result, "ZSTDC3010");
        Assert.Contains(collector.Address, RegistryTestKit.ErrorLine(result, "ZSTDC3010"));
        var collected = collector.EventList;
        Assert.NotEmpty(collected); // the client did follow the rewritten location
        Assert.All(collected, e => Assert.Null(e.Request.Authorization));
        Assert.Contains(front.EventList, e => e.Request.Authorization is not null); // the registry itself got them
        Assert.Null(await registry.ManifestDigestAsync("it/scope-location", "v1", RegistryTestKit.BasicHeader(RegistryTestKit.User, password)));
    }
}
