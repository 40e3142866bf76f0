using System.Globalization;
using System.Text.Json.Nodes;
using ZstdContainers.Building;
using ZstdContainers.Oci;
using static ZstdContainers.Tests.Building.BuildingTestKit;

namespace ZstdContainers.Tests.Building;

/// <summary>
/// ContainerConfigComposer.Compose against the SDK 10.0.401 rules (research §1), asserting on
/// the JSON exactly as it is written (OciJson options: compact, '+' kept literal).
/// </summary>
public sealed class ContainerConfigComposerTests
{
    private const string CreatedBy = "ZstdContainers test: app layer";

    // 2026-03-04T05:05:06.1234567+02:00 = 03:05:06.1234567 UTC
    private static readonly DateTimeOffset Created =
        new DateTimeOffset(2026, 3, 4, 5, 5, 6, TimeSpan.FromHours(2)).AddTicks(1_234_567);

    private const string CreatedText = "2026-03-04T03:05:06.1234567Z";

    private readonly RecordingBuildLog _log = new();

    private static JsonObject Base(string innerConfig = "{}", string extraTopLevel = "") =>
        JsonNode.Parse($$"""
            {"architecture":"amd64","os":"linux",{{extraTopLevel}}
             "config":{{innerConfig}},
             "rootfs":{"type":"layers","diff_ids":["{{D('a')}}","{{D('b')}}"]},
             "history":[{"created":"2025-01-01T00:00:00Z","created_by":"base layer 1"},{"created":"2025-01-02T00:00:00Z","created_by":"base layer 2","comment":"keep"}]}
            """)!.AsObject();

    private JsonObject Compose(JsonObject baseConfig, ImageRequest? request = null, IReadOnlyList<Digest>? added = null, DateTimeOffset? created = null) =>
        ContainerConfigComposer.Compose(baseConfig, request ?? Request(), D('c'), added ?? [D('d')], created ?? Created, CreatedBy, _log);

    private static JsonObject Inner(JsonObject config) => config["config"]!.AsObject();

    private static string Json(JsonNode? node) => node!.ToJsonString(OciJson.Options);

    // ---- the whole document ----

    [Fact]
    public void An_aspnet_like_base_composes_to_the_exact_SDK_shaped_config()
    {
        var baseConfig = Base(
            """
            {"Hostname":"","Domainname":"","User":"","AttachStdout":false,"Tty":false,
             "Env":["PATH=/usr/local/sbin:/usr/bin","APP_UID=1654","ASPNETCORE_HTTP_PORTS=8080","DOTNET_RUNNING_IN_CONTAINER=true","NOEQ","EMPTY="],
             "Entrypoint":["dotnet"],"Cmd":["bash"],"WorkingDir":"/","Image":"sha256:x",
             "Labels":{"vendor":"Contoso","build":5,"gone":null},
             "ExposedPorts":{"80/tcp":{}},"Volumes":{"/data":{}},"StopSignal":"SIGTERM",
             "Healthcheck":{"Test":["CMD","true"]},"Shell":["/bin/sh"],"OnBuild":null,"ArgsEscaped":true}
            """,
            """" "author":"someone","docker_version":"27.0","container":"abc","container_config":{"Cmd":["x"]},"os.version":"1","""");
        var request = Request() with
        {
            EnvironmentVariables = [Pair("PATH", "/custom"), Pair("NEW", "x=y")],
            ExposedPorts = [new ExposedPort(53, "udp")],
            Labels = [Pair("org.opencontainers.image.title", "app+1 <b>"), Pair("vendor", "Me")],
            GenerateLabels = true,
            GenerateDigestLabel = true,
        };

        var config = Compose(baseConfig, request);

        var a = D('a').Value; var b = D('b').Value; var c = D('c').Value; var d = D('d').Value;
        Assert.Equal(
            "{\"config\":{" +
                "\"ExposedPorts\":{\"80/tcp\":{},\"53/udp\":{},\"8080/tcp\":{}}," +
                $"\"Labels\":{{\"vendor\":\"Me\",\"build\":\"5\",\"org.opencontainers.image.title\":\"app+1 <b>\",\"org.opencontainers.image.base.digest\":\"{c}\"}}," +
                "\"Env\":[\"PATH=/custom\",\"APP_UID=1654\",\"ASPNETCORE_HTTP_PORTS=8080\",\"DOTNET_RUNNING_IN_CONTAINER=true\",\"EMPTY=\",\"NEW=x=y\"]," +
                "\"WorkingDir\":\"/app/\"," +
                "\"Entrypoint\":[\"dotnet\",\"/app/x.dll\"]," +
                "\"User\":\"1654\"," +
                "\"Volumes\":{\"/data\":{}}," +
                "\"StopSignal\":\"SIGTERM\"}," +
            $"\"created\":\"{CreatedText}\"," +
            $"\"rootfs\":{{\"type\":\"layers\",\"diff_ids\":[\"{a}\",\"{b}\",\"{d}\"]}}," +
            "\"architecture\":\"amd64\",\"os\":\"linux\"," +
            "\"history\":[" +
                "{\"created\":\"2025-01-01T00:00:00Z\",\"created_by\":\"base layer 1\"}," +
                "{\"created\":\"2025-01-02T00:00:00Z\",\"created_by\":\"base layer 2\",\"comment\":\"keep\"}," +
                $"{{\"created\":\"{CreatedText}\",\"created_by\":\"{CreatedBy}\"}}]}}",
            Json(config));
        Assert.Empty(_log.Warnings);
    }

    [Fact]
    public void Same_inputs_give_byte_identical_json()
    {
        const string inner = """{"Env":["A=1","B=2"],"Labels":{"x":"1","y":2},"ExposedPorts":{"80/tcp":{},"443":{}},"User":"app","Volumes":{"/v":{}}}""";
        var request = Request() with
        {
            EnvironmentVariables = [Pair("ASPNETCORE_URLS", "http://+:5000")],
            Labels = [Pair("z", "3")],
            GenerateLabels = true,
            GenerateDigestLabel = true,
            ExposedPorts = [new ExposedPort(9000, "udp")],
        };

        var first = Json(Compose(Base(inner), request));
        var second = Json(Compose(Base(inner), request));

        Assert.Equal(first, second);
        Assert.Equal(System.Text.Encoding.UTF8.GetBytes(first), System.Text.Encoding.UTF8.GetBytes(second));
    }

    [Fact]
    public void The_base_config_is_not_modified()
    {
        var baseConfig = Base("""{"Env":["A=1"],"Volumes":{"/v":{}},"Labels":{"l":"v"}}""");
        var before = Json(baseConfig);

        var composed = Compose(baseConfig, Request() with { EnvironmentVariables = [Pair("A", "2")] });
        composed["history"]!.AsArray().Clear();
        Inner(composed)["Volumes"]!.AsObject().Add("/w", new JsonObject());

        Assert.Equal(before, Json(baseConfig));
    }

    // ---- Env ----

    [Fact]
    public void Env_override_keeps_the_base_position_and_new_names_are_appended_in_item_order()
    {
        var config = Compose(
            Base("""{"Env":["PATH=/usr/bin","HOME=/root","LANG=C"]}"""),
            Request() with { EnvironmentVariables = [Pair("ZED", "z"), Pair("HOME", "/home/app"), Pair("ALPHA", "a")] });

        Assert.Equal("""["PATH=/usr/bin","HOME=/home/app","LANG=C","ZED=z","ALPHA=a"]""", Json(Inner(config)["Env"]));
    }

    [Fact]
    public void Env_base_entries_without_equals_are_dropped_and_empty_values_kept()
    {
        var config = Compose(Base("""{"Env":["NOEQ","EMPTY=","A=b=c"]}"""));

        Assert.Equal("""["EMPTY=","A=b=c"]""", Json(Inner(config)["Env"]));
    }

    [Fact]
    public void No_Env_at_all_leaves_the_key_out()
    {
        var config = Compose(Base());

        Assert.False(Inner(config).ContainsKey("Env"));
    }

    // ---- ExposedPorts ----

    [Fact]
    public void Ports_come_base_then_request_then_inferred_with_duplicates_removed()
    {
        var config = Compose(
            Base("""{"ExposedPorts":{"80/tcp":{},"53/udp":{}},"Env":["ASPNETCORE_HTTP_PORTS=8080"]}"""),
            Request() with
            {
                ExposedPorts = [new ExposedPort(9000, "udp"), new ExposedPort(80), new ExposedPort(53, "udp")],
                EnvironmentVariables = [Pair("ASPNETCORE_HTTP_PORTS", "5000;5001;80")],
            });

        Assert.Equal("""{"80/tcp":{},"53/udp":{},"9000/udp":{},"5000/tcp":{},"5001/tcp":{}}""", Json(Inner(config)["ExposedPorts"]));
    }

    [Fact]
    public void Base_port_keys_bare_numbers_are_tcp_and_unparseable_keys_or_non_object_values_are_dropped()
    {
        var config = Compose(Base("""{"ExposedPorts":{"8443":{},"abc/tcp":{},"81/tcp":null,"82/tcp":"x","83/sctp":{},"84/udp":{}}}"""));

        Assert.Equal("""{"8443/tcp":{},"84/udp":{}}""", Json(Inner(config)["ExposedPorts"]));
    }

    [Fact]
    public void ASPNETCORE_URLS_gives_tcp_ports_and_wins_over_HTTP_and_HTTPS_PORTS()
    {
        var config = Compose(
            Base("""{"Env":["ASPNETCORE_HTTP_PORTS=8080","ASPNETCORE_HTTPS_PORTS=8443"]}"""),
            Request() with { EnvironmentVariables = [Pair("ASPNETCORE_URLS", " http://+:5000 ; https://*:5001;;http://localhost:5002;not-a-url ")] });

        Assert.Equal("""{"5000/tcp":{},"5001/tcp":{},"5002/tcp":{}}""", Json(Inner(config)["ExposedPorts"]));
    }

    [Fact]
    public void ASPNETCORE_URLS_from_the_base_also_wins_over_PORTS_set_by_the_project()
    {
        var config = Compose(
            Base("""{"Env":["ASPNETCORE_URLS=http://+:80"]}"""),
            Request() with { EnvironmentVariables = [Pair("ASPNETCORE_HTTP_PORTS", "5000")] });

        Assert.Equal("""{"80/tcp":{}}""", Json(Inner(config)["ExposedPorts"]));
    }

    [Fact]
    public void HTTP_PORTS_then_HTTPS_PORTS_non_integers_skipped()
    {
        var config = Compose(
            Base("""{"Env":["ASPNETCORE_HTTPS_PORTS=8443;x;8080"]}"""),
            Request() with { EnvironmentVariables = [Pair("ASPNETCORE_HTTP_PORTS", " 8080 ;abc;;9090")] });

        Assert.Equal("""{"8080/tcp":{},"9090/tcp":{},"8443/tcp":{}}""", Json(Inner(config)["ExposedPorts"]));
    }

    [Fact]
    public void The_project_env_overrides_the_base_HTTP_PORTS_before_inference()
    {
        var config = Compose(
            Base("""{"Env":["ASPNETCORE_HTTP_PORTS=8080"]}"""),
            Request() with { EnvironmentVariables = [Pair("ASPNETCORE_HTTP_PORTS", "5000;5001")] });

        Assert.Equal("""{"5000/tcp":{},"5001/tcp":{}}""", Json(Inner(config)["ExposedPorts"]));
    }

    [Fact]
    public void No_ports_leaves_ExposedPorts_out()
    {
        Assert.False(Inner(Compose(Base())).ContainsKey("ExposedPorts"));
    }

    // ---- Labels ----

    [Fact]
    public void Labels_base_first_then_request_overriding_in_place_then_digest_label_last()
    {
        var config = Compose(
            Base("""{"Labels":{"a":"1","n":5,"t":true,"gone":null,"b":"2"}}"""),
            Request() with { Labels = [Pair("c", "3"), Pair("a", "one")], GenerateLabels = true, GenerateDigestLabel = true });

        Assert.Equal(
            $$"""{"a":"one","n":"5","t":"true","b":"2","c":"3","org.opencontainers.image.base.digest":"{{D('c')}}"}""",
            Json(Inner(config)["Labels"]));
    }

    [Fact]
    public void GenerateLabels_false_drops_request_labels_and_the_digest_label_but_keeps_base_labels()
    {
        var config = Compose(
            Base("""{"Labels":{"a":"1"}}"""),
            Request() with { Labels = [Pair("c", "3"), Pair("a", "override")], GenerateLabels = false, GenerateDigestLabel = true });

        Assert.Equal("""{"a":"1"}""", Json(Inner(config)["Labels"]));
    }

    [Fact]
    public void Digest_label_is_absent_when_GenerateDigestLabel_is_false()
    {
        var config = Compose(
            Base(),
            Request() with { Labels = [Pair("c", "3")], GenerateLabels = true, GenerateDigestLabel = false });

        Assert.Equal("""{"c":"3"}""", Json(Inner(config)["Labels"]));
    }

    [Fact]
    public void Digest_label_alone_when_both_flags_are_on_and_there_are_no_other_labels()
    {
        var config = Compose(Base(), Request() with { GenerateLabels = true, GenerateDigestLabel = true });

        Assert.Equal($$"""{"org.opencontainers.image.base.digest":"{{D('c')}}"}""", Json(Inner(config)["Labels"]));
    }

    [Fact]
    public void No_labels_leaves_the_key_out()
    {
        Assert.False(Inner(Compose(Base("""{"Labels":{"gone":null}}"""))).ContainsKey("Labels"));
    }

    // ---- User ----

    [Fact]
    public void Explicit_ContainerUser_wins_over_APP_UID_and_the_base_User()
    {
        var config = Compose(Base("""{"User":"root","Env":["APP_UID=1654"]}"""), Request() with { User = "1000" });

        Assert.Equal("1000", (string?)Inner(config)["User"]);
    }

    [Fact]
    public void APP_UID_from_the_base_env_becomes_User_over_the_base_User()
    {
        var config = Compose(Base("""{"User":"root","Env":["APP_UID=1654"]}"""));

        Assert.Equal("1654", (string?)Inner(config)["User"]);
    }

    [Fact]
    public void APP_UID_is_read_from_the_final_env_after_project_overrides()
    {
        var config = Compose(Base("""{"Env":["APP_UID=1654"]}"""), Request() with { EnvironmentVariables = [Pair("APP_UID", "4242")] });

        Assert.Equal("4242", (string?)Inner(config)["User"]);
    }

    [Fact]
    public void APP_UID_set_only_by_the_project_becomes_User()
    {
        var config = Compose(Base("""{"User":"nobody"}"""), Request() with { EnvironmentVariables = [Pair("APP_UID", "99")] });

        Assert.Equal("99", (string?)Inner(config)["User"]);
    }

    [Fact]
    public void Without_ContainerUser_or_APP_UID_the_base_User_is_kept_even_when_empty()
    {
        Assert.Equal("nobody", (string?)Inner(Compose(Base("""{"User":"nobody"}""")))["User"]);
        Assert.Equal("", (string?)Inner(Compose(Base("""{"User":""}""")))["User"]);
        Assert.False(Inner(Compose(Base())).ContainsKey("User"));
    }

    // ---- WorkingDir, kept and dropped keys ----

    [Theory]
    [InlineData("/app/")]
    [InlineData("/app")]
    [InlineData("/srv/my app/")]
    public void WorkingDir_is_the_request_value_exactly_and_replaces_the_base(string workingDirectory)
    {
        var config = Compose(Base("""{"WorkingDir":"/base"}"""), Request() with { WorkingDirectory = workingDirectory });

        Assert.Equal(workingDirectory, (string?)Inner(config)["WorkingDir"]);
    }

    [Fact]
    public void Volumes_and_StopSignal_are_kept_every_other_base_config_key_is_dropped()
    {
        var config = Compose(Base(
            """
            {"Hostname":"h","Domainname":"d","AttachStdin":true,"AttachStdout":true,"AttachStderr":true,"Tty":true,
             "OpenStdin":true,"StdinOnce":true,"Image":"sha256:x","OnBuild":["RUN x"],"Shell":["/bin/sh","-c"],
             "Healthcheck":{"Test":["CMD","true"]},"ArgsEscaped":true,"Cmd":["bash"],"Entrypoint":["dotnet"],
             "Volumes":{"/data":{},"/logs":{}},"StopSignal":"SIGQUIT","WorkingDir":"/w","Custom":1}
            """));

        Assert.Equal(
            """{"WorkingDir":"/app/","Entrypoint":["dotnet","/app/x.dll"],"Volumes":{"/data":{},"/logs":{}},"StopSignal":"SIGQUIT"}""",
            Json(Inner(config)));
    }

    [Fact]
    public void Top_level_keys_other_than_the_SDK_ones_are_dropped()
    {
        var config = Compose(Base(extraTopLevel: """" "author":"a","container":"c","container_config":{},"docker_version":"1","os.version":"10","os.features":["x"],"comment":"c",""""));

        Assert.Equal(["config", "created", "rootfs", "architecture", "os", "history"], config.Select(p => p.Key));
    }

    [Fact]
    public void The_base_Cmd_is_dropped_when_the_new_Cmd_is_empty_and_replaced_when_not()
    {
        Assert.False(Inner(Compose(Base("""{"Cmd":["bash"]}"""))).ContainsKey("Cmd"));

        var withCmd = Compose(Base("""{"Cmd":["bash"]}"""), Request() with { DefaultArgs = ["--x"] });
        Assert.Equal("""["--x"]""", Json(Inner(withCmd)["Cmd"]));
    }

    [Fact]
    public void Entrypoint_and_Cmd_from_the_rules_use_the_base_Entrypoint()
    {
        var config = Compose(Base("""{"Entrypoint":["/init",""]}"""), Request() with { AppCommandInstruction = AppCommandInstruction.DefaultArgs });

        Assert.Equal("""["/init"]""", Json(Inner(config)["Entrypoint"]));
        Assert.Equal("""["dotnet","/app/x.dll"]""", Json(Inner(config)["Cmd"]));
    }

    [Fact]
    public void Entrypoint_rule_errors_surface_from_Compose()
    {
        var e = Assert.Throws<ZstdContainersException>(() => Compose(Base(), Request() with { EntrypointArgs = ["a"], DefaultArgs = ["d"] }));

        Assert.Equal("ZSTDC1012", e.Code);
    }

    [Fact]
    public void Base_Entrypoint_warning_reaches_the_log_through_Compose()
    {
        Compose(Base("""{"Entrypoint":["/init"]}"""));

        Assert.Equal("ZSTDC1016", Assert.Single(_log.Warnings).Code);
    }

    // ---- rootfs, history, created ----

    [Fact]
    public void Rootfs_diff_ids_are_the_base_ones_then_the_added_ones()
    {
        var config = Compose(Base(), added: [D('d'), D('e')]);

        Assert.Equal(
            $$"""{"type":"layers","diff_ids":["{{D('a')}}","{{D('b')}}","{{D('d')}}","{{D('e')}}"]}""",
            Json(config["rootfs"]));
    }

    [Fact]
    public void Rootfs_of_a_base_whose_type_is_not_layers_starts_empty()
    {
        var baseConfig = Base();
        baseConfig["rootfs"] = JsonNode.Parse($$"""{"type":"other","diff_ids":["{{D('a')}}"]}""");

        Assert.Equal($$"""{"type":"layers","diff_ids":["{{D('d')}}"]}""", Json(Compose(baseConfig)["rootfs"]));
    }

    [Fact]
    public void History_is_the_base_history_then_one_entry_per_added_layer()
    {
        var config = Compose(Base(), added: [D('d'), D('e')]);

        Assert.Equal(
            "[{\"created\":\"2025-01-01T00:00:00Z\",\"created_by\":\"base layer 1\"}," +
            "{\"created\":\"2025-01-02T00:00:00Z\",\"created_by\":\"base layer 2\",\"comment\":\"keep\"}," +
            $"{{\"created\":\"{CreatedText}\",\"created_by\":\"{CreatedBy}\"}}," +
            $"{{\"created\":\"{CreatedText}\",\"created_by\":\"{CreatedBy}\"}}]",
            Json(config["history"]));
    }

    [Fact]
    public void History_without_base_history_has_only_the_added_entries()
    {
        var baseConfig = Base();
        baseConfig.Remove("history");

        Assert.Equal(
            $"[{{\"created\":\"{CreatedText}\",\"created_by\":\"{CreatedBy}\"}}]",
            Json(Compose(baseConfig)["history"]));
    }

    [Fact]
    public void Created_is_UTC_with_exactly_seven_fractional_digits()
    {
        Assert.Equal(CreatedText, (string?)Compose(Base())["created"]);
        Assert.Equal(
            "2000-01-01T00:00:00.0000000Z",
            (string?)Compose(Base(), created: new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.Zero))["created"]);
        Assert.Equal(
            "1999-12-31T23:00:00.0000001Z",
            ContainerConfigComposer.FormatTime(new DateTimeOffset(2000, 1, 1, 0, 0, 0, TimeSpan.FromHours(1)).AddTicks(1)));
    }

    [Fact]
    public void Created_does_not_depend_on_the_current_culture()
    {
        var saved = CultureInfo.CurrentCulture;
        try
        {
            CultureInfo.CurrentCulture = new CultureInfo("th-TH"); // Buddhist calendar: year 2569
            Assert.Equal(CreatedText, ContainerConfigComposer.FormatTime(Created));
        }
        finally
        {
            CultureInfo.CurrentCulture = saved;
        }
    }

    // ---- platform ----

    [Fact]
    public void Missing_architecture_fails_ZSTDC1017()
    {
        var baseConfig = Base();
        baseConfig.Remove("architecture");

        var e = Assert.Throws<ZstdContainersException>(() => Compose(baseConfig));

        Assert.Equal("ZSTDC1017", e.Code);
        Assert.Equal(
            "The base image's config has no 'architecture', so the image's platform cannot be stated. Use a base image built for a platform (its config must name architecture and os).",
            e.Message);
    }

    [Fact]
    public void Empty_os_fails_ZSTDC1017()
    {
        var baseConfig = Base();
        baseConfig["os"] = "";

        var e = Assert.Throws<ZstdContainersException>(() => Compose(baseConfig));

        Assert.Equal("ZSTDC1017", e.Code);
        Assert.Contains("'os'", e.Message);
    }

    [Fact]
    public void Variant_is_kept_between_os_and_history_when_present()
    {
        var baseConfig = Base();
        baseConfig["architecture"] = "arm64";
        baseConfig["variant"] = "v8";

        var config = Compose(baseConfig);

        Assert.Equal(["config", "created", "rootfs", "architecture", "os", "variant", "history"], config.Select(p => p.Key));
        Assert.Equal("v8", (string?)config["variant"]);
        Assert.Equal("arm64", (string?)config["architecture"]);
    }

    [Fact]
    public void Empty_variant_is_left_out()
    {
        var baseConfig = Base();
        baseConfig["variant"] = "";

        Assert.False(Compose(baseConfig).ContainsKey("variant"));
    }
}
