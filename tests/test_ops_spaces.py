"""glassnet.ops' namespaces nn, numpy, linalg (glassnet._ops_spaces) against Keras 3.15's keras.ops.nn,
keras.ops.numpy, keras.ops.linalg: the same names (those glassnet has), glassnet.ops' own function
objects (so tapes record through them), models drawn through them, and the import forms Keras takes."""
import importlib
import subprocess
import sys

import numpy as np
import pytest

import glassnet as gn
from glassnet import _ops_spaces, ops

SPACES = ("nn", "numpy", "linalg")


def _public_callables(module):
    return {name for name in dir(module) if not name.startswith("_") and callable(getattr(module, name))}


@pytest.mark.parametrize("space", SPACES)
def test_names_are_keras_names_that_glassnet_ops_has(space, keras):
    theirs = _public_callables(getattr(keras.ops, space))
    # the lists written out in _ops_spaces are Keras 3.15's, exactly
    assert set(_ops_spaces.SPACES[space]) == theirs
    ours = getattr(ops, space)
    assert _public_callables(ours) == theirs & _public_callables(ops)
    assert set(ours.__all__) == _public_callables(ours)
    assert set(ours.__all__) <= set(ops.__all__)


@pytest.mark.parametrize("space", SPACES)
def test_namespace_functions_are_glassnet_ops_own(space):
    module = getattr(ops, space)
    assert module.__all__, space
    for name in module.__all__:
        assert getattr(module, name) is getattr(ops, name), name


def test_keras_namespaces_hold_keras_top_level_functions_too(keras):
    """What the namespaces mirror: Keras' own keras.ops.nn.relu is keras.ops.relu."""
    for space in SPACES:
        module = getattr(keras.ops, space)
        for name in _public_callables(module):
            assert getattr(module, name) is getattr(keras.ops, name), (space, name)


def test_missing_names_raise_attribute_error_naming_them(keras):
    assert hasattr(keras.ops.linalg, "jvp") and ops.linalg.jvp is ops.jvp      # built now (glassnet._ops_jvp)
    with pytest.raises(AttributeError, match=r"'glassnet\.ops\.nn' has no attribute 'no_such_op'"):
        ops.nn.no_such_op
    with pytest.raises(AttributeError, match=r"'glassnet\.ops' has no attribute 'no_such_op'"):
        ops.no_such_op
    assert not hasattr(ops.numpy, "norm") and hasattr(ops.linalg, "norm")  # Keras' homes, not NumPy's
    # Keras 3.15 exports no keras.ops.math or keras.ops.core: nor does glassnet, saying why
    for space in _ops_spaces.INTERNAL:
        assert not hasattr(keras.ops, space)
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"keras.ops.{space}")
        with pytest.raises(AttributeError, match=rf"glassnet\.ops has no '{space}': Keras 3\.15 has no keras\.ops\.{space}"):
            getattr(ops, space)
        with pytest.raises(ModuleNotFoundError):
            importlib.import_module(f"glassnet.ops.{space}")


@pytest.mark.parametrize("space", SPACES + ("image",))
def test_import_forms_as_keras(space, keras):
    assert importlib.import_module(f"keras.ops.{space}") is getattr(keras.ops, space)
    assert importlib.import_module(f"glassnet.ops.{space}") is getattr(ops, space)
    assert sys.modules[f"glassnet.ops.{space}"] is getattr(ops, space)


def test_import_of_a_namespace_first_and_import_glassnet_stays_lazy():
    code = ("import sys, glassnet\n"
            "assert 'glassnet.ops' not in sys.modules and 'glassnet._ops_spaces' not in sys.modules\n"
            "import glassnet.ops.linalg\n"
            "from glassnet.ops.nn import relu\n"
            "from glassnet.ops import numpy as gnp\n"
            "assert glassnet.ops.linalg.inv is glassnet.ops.inv and relu is glassnet.ops.relu\n"
            "assert gnp.sum is glassnet.ops.sum\n")
    subprocess.run([sys.executable, "-c", code], check=True)


def _central_differences(f, x, eps=1e-6):
    grad = np.zeros_like(x)
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = eps
        grad[index] = (f(x + step) - f(x - step)) / (2 * eps)
    return grad


def test_tape_records_through_linalg_inv_and_nn_relu(rng):
    from glassnet.ops import linalg, nn
    x = rng.standard_normal((3, 3)) + 3 * np.eye(3)          # float64, well conditioned
    weights = rng.standard_normal((3, 3))
    # inverse entries away from relu's kink, so that the finite differences see one side
    assert np.abs(np.linalg.inv(x)).min() > 1e-3

    def loss(value):
        return ops.sum(nn.relu(linalg.inv(value)) * weights)

    with gn.GradientTape() as tape:
        tape.watch(x)
        y = loss(x)
    ours = np.asarray(tape.gradient(y, x))
    assert ours.dtype == np.float64
    expected = _central_differences(lambda v: float(loss(v)), x)
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-8)
    # and the same gradient as the top-level functions give
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.relu(ops.inv(x)) * weights)
    np.testing.assert_allclose(ours, np.asarray(tape.gradient(y, x)), rtol=0, atol=0)


def test_tape_records_through_numpy_namespace(rng, torch):
    from glassnet.ops import numpy as gnp
    x = rng.standard_normal((4, 5))
    with gn.GradientTape() as tape:
        tape.watch(x)
        y = gnp.sum(gnp.square(gnp.tanh(x)), axis=None)
    ours = np.asarray(tape.gradient(y, x))
    t = torch.tensor(x, requires_grad=True)
    torch.sum(torch.tanh(t) ** 2).backward()
    np.testing.assert_allclose(ours, t.grad.numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours, _central_differences(lambda v: float(np.sum(np.tanh(v) ** 2)), x),
                               rtol=1e-6, atol=1e-8)


def _summed_net(module):
    # keras.ops.numpy.sum / keras.ops.nn.gelu / keras.ops.linalg.norm inside a functional model
    kops, layers = module.ops, module.layers
    x = module.Input((4, 3))
    h = layers.Dense(5, name="d")(x)
    pooled = kops.numpy.sum(kops.nn.gelu(h), axis=1)                      # (None, 5)
    scaled = pooled / (1.0 + kops.linalg.norm(pooled, axis=-1, keepdims=True))
    return x, layers.Dense(2, name="out")(scaled)


def test_model_drawn_with_namespace_functions_predicts_and_trains_as_keras(rng, keras):
    ours = gn.Model(*_summed_net(gn), seed=0)
    theirs = keras.Model(*_summed_net(keras))
    for name in ("d", "out"):
        theirs.get_layer(name).set_weights(ours.get_layer(name).get_weights())
    x = rng.standard_normal((8, 4, 3)).astype(np.float32)
    y = rng.standard_normal((8, 2)).astype(np.float32)
    prediction = ours.predict(x, verbose=0)
    assert prediction.dtype == np.float32
    np.testing.assert_allclose(prediction, theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    ours_loss = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    their_loss = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(ours_loss, their_loss, rtol=1e-5)


def test_model_drawn_with_numpy_sum_survives_its_file(rng, tmp_path):
    model = gn.Model(*_summed_net(gn), seed=1)
    x = rng.standard_normal((3, 4, 3)).astype(np.float32)
    model.save(tmp_path / "summed.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "summed.npz").predict(x, verbose=0),
                                  model.predict(x, verbose=0))
