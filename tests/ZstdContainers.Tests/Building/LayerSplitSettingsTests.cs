using Microsoft.Build.Utilities;
using ZstdContainers.Layers;
using ZstdContainers.Tasks;

namespace ZstdContainers.Tests.Building;

/// <summary>ContainerLayerSplit and ContainerLayer items as the settings task reads them.</summary>
public sealed class LayerSplitSettingsTests
{
    private static TaskItem Layer(string name, string files, string? after = null)
    {
        var item = new TaskItem(name);
        item.SetMetadata("Files", files);
        if (after is not null)
        {
            item.SetMetadata("After", after);
        }
        return item;
    }

    [Theory]
    [InlineData(null, true)]
    [InlineData("", true)]
    [InlineData(" True ", true)]
    [InlineData("false", false)]
    public void ContainerLayerSplit_is_true_unless_set_to_false(string? value, bool expected) =>
        Assert.Equal(expected, LayerSplitSettings.Parse(value, []).SplitByOrigin);

    [Theory]
    [InlineData("yes")]
    [InlineData("1")]
    [InlineData("off")]
    public void Another_ContainerLayerSplit_value_fails_with_a_code_naming_the_allowed_ones(string value)
    {
        var error = Assert.Throws<ZstdContainersException>(() => LayerSplitSettings.Parse(value, []));

        Assert.Equal(ErrorCodes.InvalidLayerSplit, error.Code);
        Assert.Contains($"'{value}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("'false'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ContainerLayer_items_become_custom_layers_in_their_order_with_projects_as_the_default_place()
    {
        var options = LayerSplitSettings.Parse("false", [Layer("models", " models/** ; *.onnx;", "base"), Layer("static", "wwwroot")]);

        Assert.False(options.SplitByOrigin);
        Assert.Equal(2, options.CustomLayers.Count);
        Assert.Equal(("models", "base"), (options.CustomLayers[0].Name, options.CustomLayers[0].After));
        Assert.Equal(["models/**", "*.onnx"], options.CustomLayers[0].Patterns);
        Assert.Equal(LayerPartitioner.ProjectsLayer, options.CustomLayers[1].After);
    }

    [Theory]
    [InlineData("app", "x", null)]
    [InlineData("bad name", "x", null)]
    [InlineData("ok", "", null)]
    [InlineData("ok", "x", "top")]
    public void A_custom_layer_that_cannot_be_built_fails_when_the_settings_are_read(string name, string files, string? after)
    {
        var error = Assert.Throws<ZstdContainersException>(() => LayerSplitSettings.Parse(null, [Layer(name, files, after)]));

        Assert.Equal(ErrorCodes.InvalidCustomLayer, error.Code);
    }
}
