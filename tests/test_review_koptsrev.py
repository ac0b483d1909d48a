"""Review of Conv1D/2D/3D(groups=g), BatchNormalization(center, scale), LayerNormalization(rms_scaling)
and CategoricalFocalCrossentropy's per-class alpha: what the merge left behind."""
import numpy as np
import pytest

from glassnet.layers import Conv2D


@pytest.fixture
def plot():
    pytest.importorskip("matplotlib", reason="needs the plot extra: pip install 'glassnet[plot]'")
    from glassnet import plot
    return plot


def test_conv_filters_of_a_grouped_conv_are_its_whole_kernel(plot):
    # a grouped kernel (3, 3, C/g = 3, 4) on 6 channels was drawn as "RGB weights", channel=2 showed
    # channel 2 of every group (input channels 2 and 5 mixed), and channel=4 was refused
    layer = Conv2D(4, 3, groups=2, seed=0, use_bias=False)
    layer.build((5, 5, 6))
    full = plot._filters(layer)
    assert full.shape == (3, 3, 6, 4)
    # the drawn kernel is the convolution's: an ungrouped Conv2D with it gives the grouped one's outputs
    plain = Conv2D(4, 3, use_bias=False)
    plain.build((5, 5, 6))
    plain.set_weights([full])
    x = np.random.default_rng(0).normal(size=(2, 5, 5, 6)).astype(np.float32)
    np.testing.assert_allclose(plain(x), layer(x), rtol=1e-5, atol=1e-6)
    assert "mean over 6 input channels" in plot.conv_filters(layer)._suptitle.get_text()
    fig = plot.conv_filters(layer, channel=4)
    assert "input channel 4" in fig._suptitle.get_text()
    # filters 0 and 1 (group 0: channels 0-2) do not see channel 4: drawn as zeros
    images = [ax.images[0].get_array() for ax in fig.axes if ax.images]
    assert np.all(np.asarray(images[0]) == 0) and np.all(np.asarray(images[1]) == 0)
    np.testing.assert_array_equal(np.asarray(images[2]), layer.params["kernel"][:, :, 1, 2])
