"""Keras' data_format="channels_first" on the global poolings: (batch, C, *spatial) in, one value
per channel (the first axis after the batch) out. keras.io's timeseries Transformer averages each
step's features with GlobalAveragePooling1D(data_format="channels_first") on (batch, steps, features)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer

NAMES = ["GlobalAveragePooling1D", "GlobalMaxPooling1D", "GlobalAveragePooling2D", "GlobalMaxPooling2D",
         "GlobalAveragePooling3D", "GlobalMaxPooling3D"]


def _x(name, rng, batch=2, dtype=np.float32):
    rank = int(name[-2])
    return rng.standard_normal((batch, 3, *(4,) * rank)).astype(dtype)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_values_and_shapes_match_keras(keras, rng, name, keepdims):
    x = _x(name, rng)
    expected = np.asarray(getattr(keras.layers, name)(data_format="channels_first", keepdims=keepdims)(x))
    layer = getattr(gn.layers, name)(data_format="channels_first", keepdims=keepdims)
    out = layer(x)
    assert out.shape == expected.shape and out.shape[1:] == layer.output_shape(x.shape[1:])
    np.testing.assert_allclose(out, expected, rtol=1e-6, atol=1e-7)


def test_a_mask_over_the_steps_matches_keras(keras, rng):
    # channels first: (batch, C, steps), the mask (batch, steps) over the last axis, as Keras reads it
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    mask = np.array([[1, 1, 0], [1, 0, 0]], dtype=bool)
    expected = keras.layers.GlobalAveragePooling1D(data_format="channels_first")(x, mask=mask)
    out = gn.layers.GlobalAveragePooling1D(data_format="channels_first")(x, mask=mask)
    np.testing.assert_allclose(out, np.asarray(expected), rtol=1e-6)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_gradients_by_finite_differences(rng, name, keepdims):
    layer = getattr(gn.layers, name)(data_format="channels_first", keepdims=keepdims, dtype="float64")
    check_layer(layer, _x(name, rng, dtype=np.float64))


@pytest.mark.parametrize("name", NAMES)
def test_gradients_match_torch_autograd(rng, name):
    torch = pytest.importorskip("torch")
    x = _x(name, rng, dtype=np.float64)
    weights = rng.standard_normal((2, 3))            # dL/d(output), one per channel
    layer = getattr(gn.layers, name)(data_format="channels_first", dtype="float64")
    layer(x)
    dx = layer.backward(weights)
    t = torch.tensor(x, requires_grad=True)
    flat = t.reshape(2, 3, -1)
    # (no ties in random data: the max's one winner is torch's too)
    pooled = flat.mean(dim=-1) if "Average" in name else flat.max(dim=-1).values
    (pooled * torch.tensor(weights)).sum().backward()
    assert dx.shape == x.shape and dx.flags.c_contiguous
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-12, atol=1e-14)


def test_the_timeseries_transformer_head_trains_and_round_trips(tmp_path, rng):
    # keras.io: GlobalAveragePooling1D(data_format="channels_first") on (batch, steps, features)
    model = gn.Sequential([gn.Input((6, 4)), gn.layers.Dense(5, activation="relu"),
                           gn.layers.GlobalAveragePooling1D(data_format="channels_first"),
                           gn.layers.Dense(2, activation="softmax")], seed=0)
    assert model.layers[1].output_shape((6, 5)) == (6,)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
    x, y = rng.standard_normal((16, 6, 4)).astype(np.float32), rng.integers(0, 2, 16)
    before = model.evaluate(x, y, verbose=0)
    model.fit(x, y, epochs=5, verbose=0)
    assert model.evaluate(x, y, verbose=0) < before
    path = tmp_path / "m.glassnet"
    model.save(path)
    again = gn.load_model(path)
    assert again.layers[1].data_format == "channels_first"
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


def test_channels_last_configs_keep_their_bytes_and_bad_formats_are_refused():
    # no data_format entry at the default: configs and files of models made before are unchanged
    assert "data_format" not in gn.layers.GlobalAveragePooling2D().get_config()
    with pytest.raises(ValueError, match="GlobalMaxPooling2D: data_format"):
        gn.layers.GlobalMaxPooling2D(data_format="channels_middle")
    with pytest.raises((TypeError, ValueError), match="data_format"):
        gn.layers.GlobalAveragePooling1D(True)        # Keras' order: (data_format, keepdims)
