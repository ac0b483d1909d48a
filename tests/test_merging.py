"""Merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate): values, finite
differences and PyTorch autograd, and their refusals. They take lists, so the one-input contract
table (test_layer_contract.py) leaves them to this file."""
import numpy as np
import pytest

from glassnet import layers
from glassnet.gradcheck import numerical_gradient

MERGES = {   # name -> (factory, sample shapes of the inputs, the NumPy reference)
    "Add": (layers.Add, [(3, 4)] * 3, lambda xs: xs[0] + xs[1] + xs[2]),
    "Subtract": (layers.Subtract, [(5,)] * 2, lambda xs: xs[0] - xs[1]),
    "Multiply": (layers.Multiply, [(2, 3)] * 3, lambda xs: xs[0] * xs[1] * xs[2]),
    "Average": (layers.Average, [(4,)] * 3, lambda xs: (xs[0] + xs[1] + xs[2]) / 3),
    "Maximum": (layers.Maximum, [(6,)] * 3, lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2])),
    "Minimum": (layers.Minimum, [(2, 3)] * 2, lambda xs: np.minimum(xs[0], xs[1])),
    "Concatenate": (layers.Concatenate, [(2, 3), (2, 1), (2, 2)], lambda xs: np.concatenate(xs, axis=-1)),
    "Dot": (lambda **kw: layers.Dot(axes=1, **kw), [(5,), (5,)], lambda xs: (xs[0] * xs[1]).sum(1, keepdims=True)),
    # InceptionResNetV2's residual scaling (Keras keeps it in keras.applications.inception_resnet_v2)
    "CustomScaleLayer": (lambda **kw: layers.CustomScaleLayer(0.17, **kw), [(3, 4)] * 2, lambda xs: xs[0] + xs[1] * 0.17),
}


def _inputs(shapes, rng, batch=4):
    return [rng.standard_normal((batch, *shape)) for shape in shapes]


def test_every_merge_layer_is_tested_here():
    # glassnet's own (a test's layer of its own, registered when defined, is not one)
    merging = {name for name, cls in layers.LAYERS.items()
               if getattr(cls, "merges", False) and cls.__module__.startswith("glassnet.")}
    # (the attention layers, which have weights or settings of their own: test_attention.py;
    # HashedCrossing, which crosses categories, not numbers: test_hashed_crossing.py; the mask
    # nodes CallMask and SetMask: test_block_masks.py, test_mask_argument.py; TrainingSwitch, which
    # picks one of its inputs by the pass's mode: test_training_branch.py, test_training_switch_skip.py)
    assert merging == set(MERGES) | {"MultiHeadAttention", "GroupedQueryAttention", "Attention", "AdditiveAttention",
                                     "HashedCrossing", "CallMask", "SetMask", "TrainingSwitch"}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_forward_matches_numpy_and_gradients_match_finite_differences(name, rng):
    factory, shapes, reference = MERGES[name]
    layer = factory(dtype="float64")
    xs = _inputs(shapes, rng)
    out = layer(xs)
    np.testing.assert_allclose(out, reference(xs), rtol=1e-12)
    assert out.dtype == np.float64 and out.shape == (4, *layer.output_shape(shapes))
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    assert len(grads) == len(xs)
    for k, x in enumerate(xs):
        numeric = numerical_gradient(lambda: float(np.sum(layer.forward(xs) * upstream)), x)
        np.testing.assert_allclose(grads[k], numeric, rtol=1e-6, atol=1e-8, err_msg=f"input {k}")


def test_float32_stays_float32(rng):
    for name, (factory, shapes, _) in MERGES.items():
        out = factory()([x.astype(np.float32) for x in _inputs(shapes, rng)])
        assert out.dtype == np.float32, name


TORCH_OPS = {
    "Add": lambda t, xs: xs[0] + xs[1] + xs[2],
    "Subtract": lambda t, xs: xs[0] - xs[1],
    "Multiply": lambda t, xs: xs[0] * xs[1] * xs[2],
    "Average": lambda t, xs: t.stack(xs).mean(0),
    "Maximum": lambda t, xs: t.maximum(t.maximum(xs[0], xs[1]), xs[2]),
    "Minimum": lambda t, xs: t.minimum(xs[0], xs[1]),
    "Concatenate": lambda t, xs: t.cat(xs, dim=-1),
    "Dot": lambda t, xs: (xs[0] * xs[1]).sum(1, keepdim=True),
    "CustomScaleLayer": lambda t, xs: xs[0] + xs[1] * 0.17,
}


@pytest.mark.parametrize("name", sorted(MERGES))
def test_values_and_gradients_match_torch_autograd(name, rng, torch):
    factory, shapes, _ = MERGES[name]
    layer = factory(dtype="float64")
    xs = _inputs(shapes, rng)
    upstream = rng.standard_normal((4, *layer.output_shape(shapes)))
    out = layer(xs)
    grads = layer.backward(upstream)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    tout = TORCH_OPS[name](torch, txs)
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t in zip(grads, txs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_maximum_and_minimum_send_a_tied_gradient_to_the_first_input():
    x = np.array([[1.0, 2.0, 3.0]])
    for layer in (layers.Maximum(dtype="float64"), layers.Minimum(dtype="float64")):
        layer([x, x.copy(), x.copy()])
        grads = layer.backward(np.ones((1, 3)))
        np.testing.assert_array_equal(np.stack(grads), [[[1, 1, 1]], [[0, 0, 0]], [[0, 0, 0]]])


def test_concatenate_along_other_axes(rng, torch):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 5, 4))
    for axis in (1, -2):
        layer = layers.Concatenate(axis=axis, dtype="float64")
        out = layer([a, b])
        np.testing.assert_array_equal(out, np.concatenate([a, b], axis=1))
        ga, gb = layer.backward(np.arange(out.size, dtype=float).reshape(out.shape))
        np.testing.assert_array_equal(ga, np.arange(out.size).reshape(out.shape)[:, :3])
        assert gb.shape == b.shape
    assert layers.Concatenate(axis=1).output_shape([(None, 4), (5, 4)]) == (None, 4)
    assert layers.Concatenate().output_shape([(None, 4), (None, 2)]) == (None, 6)


def test_refusals_name_the_layer_and_what_came():
    with pytest.raises(ValueError, match=r"Add needs inputs of one shape \(or of size 1 on an axis"):
        layers.Add()([np.ones((2, 3)), np.ones((2, 2))])
    with pytest.raises(ValueError, match="merges exactly 2 inputs, got 3"):
        layers.Subtract()([np.ones((2, 3))] * 3)
    with pytest.raises(ValueError, match="at least 2 inputs, got 1"):
        layers.Add()([np.ones((2, 3))])
    with pytest.raises(TypeError, match="expects a list of arrays, got ndarray"):
        layers.Multiply()(np.ones((2, 3)))
    with pytest.raises(ValueError, match="different batch sizes"):
        layers.Average()([np.ones((2, 3)), np.ones((3, 3))])
    with pytest.raises(ValueError, match="match on every axis but axis=-1"):
        layers.Concatenate()([np.ones((2, 3, 4)), np.ones((2, 2, 4))])
    with pytest.raises(ValueError, match="axis must be a non-zero integer"):
        layers.Concatenate(axis=0)
    with pytest.raises(ValueError, match="outside samples of 1 axes"):
        layers.Concatenate(axis=2)([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match="takes no input_shape"):
        layers.Add(input_shape=(3,))
    built = layers.Add()
    built([np.ones((2, 3)), np.ones((2, 3))])
    with pytest.raises(ValueError, match=r"built for inputs of shapes \[\(3,\), \(3,\)\]"):
        built([np.ones((2, 4)), np.ones((2, 4))])


def test_configs_round_trip():
    for name, (factory, _, _) in MERGES.items():
        layer = factory(name=f"my_{name.lower()}")
        config = layer.get_config()
        assert "input_shape" not in config
        again = type(layer).from_config(config)
        assert again.get_config() == config
    assert layers.Concatenate(axis=1).get_config()["axis"] == 1


def test_a_nan_wins_maximum_and_minimum_in_any_position():
    for layer in (layers.Maximum(), layers.Minimum()):
        for pair in ([np.array([[1.0]]), np.array([[np.nan]])], [np.array([[np.nan]]), np.array([[1.0]])]):
            assert np.isnan(layer(pair)).all()


@pytest.mark.parametrize("axes, shapes, normalize", [
    (1, [(5,), (5,)], True), (-1, [(5,), (5,)], False), (2, [(3, 4), (6, 4)], False),
    (2, [(3, 4), (6, 4)], True), ((1, 1), [(4, 3), (4, 2)], False), ((1, 2), [(4, 3), (2, 4)], True),
    ((2, 1), [(3, 4), (4, 2)], False)])
def test_dot_matches_torch_autograd_and_finite_differences(axes, shapes, normalize, rng, torch):
    layer = layers.Dot(axes=axes, normalize=normalize, dtype="float64")
    xs = _inputs(shapes, rng)
    out = layer(xs)
    assert out.shape == (4, *layer.output_shape(shapes))
    upstream = rng.standard_normal(out.shape)
    grads = layer.backward(upstream)
    txs = [torch.tensor(x, requires_grad=True) for x in xs]
    pair = (axes, axes) if isinstance(axes, int) else axes
    ta, tb = [torch.nn.functional.normalize(t, dim=a if a > 0 else t.dim() + a) if normalize else t
              for t, a in zip(txs, pair)]
    if len(shapes[0]) == 1:
        tout = (ta * tb).sum(1, keepdim=True)
    else:
        i, j = (a if a > 0 else 3 + a for a in pair)
        tout = (ta if i == 2 else ta.transpose(1, 2)) @ (tb if j == 1 else tb.transpose(1, 2))
    (tout * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(out, tout.detach().numpy(), rtol=1e-12, atol=1e-12)
    for g, t, x in zip(grads, txs, xs):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)
        numeric = numerical_gradient(lambda: float(np.sum(layer.forward(xs) * upstream)), x)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


def test_dot_values_match_keras():
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    rng = np.random.default_rng(0)
    for axes, shapes, normalize in [(1, [(5,), (5,)], True), (2, [(3, 4), (6, 4)], False), ((1, 2), [(4, 3), (2, 4)], True)]:
        xs = [x.astype(np.float32) for x in _inputs(shapes, rng)]
        theirs = keras.layers.Dot(axes=axes, normalize=normalize)(xs)
        np.testing.assert_allclose(layers.Dot(axes=axes, normalize=normalize)(xs), np.asarray(theirs), rtol=1e-5, atol=1e-6)


def test_dot_refusals():
    with pytest.raises(ValueError, match="axes must be a non-zero integer or two"):
        layers.Dot(axes=0)
    with pytest.raises(ValueError, match="must have one size, got 3 .axis 1 of .3,.. and 4"):
        layers.Dot(axes=1)([np.ones((2, 3)), np.ones((2, 4))])
    with pytest.raises(ValueError, match="two inputs of one rank"):
        layers.Dot(axes=1)([np.ones((2, 3)), np.ones((2, 3, 1))])
    with pytest.raises(ValueError, match="merges exactly 2 inputs"):
        layers.Dot(axes=1)([np.ones((2, 3))] * 3)
    assert layers.Dot(axes=(1, 2), normalize=True).get_config()["axes"] == [1, 2]
