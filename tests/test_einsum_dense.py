"""EinsumDense: outputs and shapes as Keras 3.15's for every form of equation, every gradient as
PyTorch autograd's (float64), Dense as its "ab,bc->ac" case, Keras' fans for the initializer, a
model trained as Keras trains it, model files and the refusals. The layer contract is in
test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, EinsumDense

CASES = [("ab,bc->ac", 6, "c", (4, 5)),
         ("abc,cd->abd", (None, 6), "d", (4, 3, 5)),
         ("...x,xy->...y", 6, "y", (4, 2, 3, 5)),
         ("abc,cde->abde", (None, 2, 3), "de", (4, 3, 5)),
         ("ab...,bc->ac...", (6,), "c", (4, 5, 2, 3)),
         ("abc,cd->ad", (6,), None, (4, 3, 5)),              # b is summed over: its gradient is broadcast
         ("abcd,cde->abe", (None, 6), "e", (4, 3, 2, 5))]
# a letter twice in one part: a diagonal of the input, of the kernel, of both, kept in the output,
# summed away from the input alone (its gradient broadcast onto the diagonal), with ... either side
DIAGONALS = [("abb,bc->ac", 6, "c", (4, 3, 3)),
             ("ab,bbc->ac", 6, "c", (4, 5)),
             ("abb,bc->abc", (3, 6), "bc", (4, 3, 3)),     # Keras sizes b from output_shape
             ("ab,bcc->ac", 4, "c", (4, 5)),
             ("abc,bb->ac", (5,), None, (4, 3, 5)),
             ("abbb,bcc->ac", 4, "c", (4, 3, 3, 3)),
             ("abb,bb->ab", (3,), "b", (4, 3, 3)),
             ("abbc,cd->ad", 6, "d", (4, 3, 3, 5)),
             ("...bb,bc->...c", 6, "c", (4, 2, 3, 3)),
             ("abb...,bc->ac...", (6,), "c", (4, 3, 3, 2))]
CASES += DIAGONALS


@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", CASES, ids=str)
def test_outputs_and_shapes_match_keras(equation, output_shape, bias_axes, shape, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=shape).astype(np.float32)
    ours = EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh",
                       bias_initializer="random_normal", seed=0)
    out = ours(x)
    theirs = keras.layers.EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh")
    theirs(x)
    assert [w.shape for w in theirs.get_weights()] == [w.shape for w in ours.get_weights()]
    theirs.set_weights(ours.get_weights())
    expected = np.asarray(theirs(x))
    assert out.shape == expected.shape == (shape[0], *ours.output_shape(shape[1:])) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", CASES, ids=str)
def test_gradients_match_torch_autograd(equation, output_shape, bias_axes, shape, rng, torch):
    layer = EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="sigmoid",
                        bias_initializer="random_normal", dtype="float64", seed=0)
    x = rng.normal(size=shape)
    out = layer(x)
    upstream = rng.normal(size=out.shape)
    dx = layer.backward(upstream)
    tx = torch.tensor(x, requires_grad=True)
    params = {name: torch.tensor(value, requires_grad=True) for name, value in layer.params.items()}
    z = torch.einsum(equation, tx, params["kernel"])
    if bias_axes:
        z = z + params["bias"]
    (torch.sigmoid(z) * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(dx, tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, value in params.items():
        np.testing.assert_allclose(layer.grads[name], value.grad.numpy(), rtol=1e-10, atol=1e-12, err_msg=name)


def test_ab_bc_ac_is_dense(rng):
    x = rng.normal(size=(6, 5))
    einsum = EinsumDense("ab,bc->ac", 3, bias_axes="c", activation="relu", dtype="float64", seed=0)
    dense = Dense(3, activation="relu", dtype="float64")
    out = einsum(x)
    dense.build((5,))
    dense.set_weights(einsum.get_weights())
    np.testing.assert_allclose(dense(x), out, rtol=1e-12)


def test_a_fan_based_initializer_counts_keras_fans(rng):
    # kernel (c, d, e) = (64, 4, 16): fan in 64 (c, summed over), fan out 64 (d and e, kept)
    layer = EinsumDense("abc,cde->abde", (None, 4, 16), seed=0)
    layer.build((3, 64))
    kernel = layer.params["kernel"]
    limit = np.sqrt(6 / (64 + 64))                          # glorot_uniform's
    assert kernel.shape == (64, 4, 16) and np.abs(kernel).max() <= limit
    assert np.abs(kernel).max() > 0.95 * limit and abs(kernel.std() - limit / np.sqrt(3)) < 0.01


def _model(lib):
    # the steps' size given (Keras leaves a None output size open, which its Flatten cannot take)
    return [lib.layers.EinsumDense("abc,cde->abde", (5, 2, 4), bias_axes="de", activation="relu"),
            lib.layers.EinsumDense("abde,dei->abi", (5, 3), bias_axes="i"),
            lib.layers.Flatten(), lib.layers.Dense(1)]


def test_a_model_trains_as_keras_and_round_trips(rng, tmp_path):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x, y = rng.normal(size=(32, 5, 6)).astype(np.float32), rng.normal(size=(32, 1)).astype(np.float32)
    ours = gn.Sequential([gn.Input((5, 6)), *_model(gn)], seed=0)
    theirs = keras.Sequential([keras.Input((5, 6)), *_model(keras)])
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(loss="mse", optimizer="sgd")
    ours.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    ours.save(tmp_path / "einsum.npz")
    loaded = gn.load_model(tmp_path / "einsum.npz")
    np.testing.assert_array_equal(loaded.predict(x), ours.predict(x))
    assert loaded.layers[0].get_config()["equation"] == "abc,cde->abde"


def test_refusals_name_what_was_expected_and_what_came():
    with pytest.raises(ValueError, match=r"equation must have the form 'ab,bc->ac', .*got 'ab,bc'"):
        EinsumDense("ab,bc", 3)
    with pytest.raises(ValueError, match=r"output_shape must give one size per output letter after the batch's, 2 "
                                         r"for 'bd' in 'abc,cd->abd', got \(3,\)"):
        EinsumDense("abc,cd->abd", 3)
    with pytest.raises(ValueError, match="output letter 'e' of 'ab,bc->ae' is in neither"):
        EinsumDense("ab,bc->ae", 3)
    with pytest.raises(ValueError, match="kernel letter 'z' of 'ab,bz->ab' is in neither"):
        EinsumDense("ab,bz->ab", (None,))
    with pytest.raises(ValueError, match="bias_axes must be letters of the output's part 'ac', got 'b'"):
        EinsumDense("ab,bc->ac", 3, bias_axes="b")
    with pytest.raises(ValueError, match="output_shape must size the kernel's output axis 'c', got None"):
        EinsumDense("ab,bc->ac", (None,))
    with pytest.raises(ValueError, match=r"'abc,cd->abd' takes inputs of 3 axes with the batch's, got 2"):
        EinsumDense("abc,cd->abd", (None, 4))(np.ones((2, 5)))
    # (lora_rank is taken now, tests/test_lora.py; a bad one is refused by name)
    with pytest.raises(ValueError, match="EinsumDense: lora_rank: expected a positive integer, got -4"):
        EinsumDense("ab,bc->ac", 3, lora_rank=-4)


def test_structured_initializers_get_the_kernel_s_own_shape_and_sizes_may_be_numpy_ints():
    layer = EinsumDense("abc,dc->abd", (None, np.int64(6)), kernel_initializer="orthogonal", seed=0, dtype="float64")
    layer.build((3, 5))
    kernel = layer.params["kernel"]                         # (6, 5): semi-orthogonal, as Keras draws it
    np.testing.assert_allclose(kernel.T @ kernel, np.eye(5), atol=1e-12)
    identity = EinsumDense("ab,bc->ac", 4, kernel_initializer="identity")
    identity.build((3,))
    np.testing.assert_array_equal(identity.params["kernel"], np.eye(3, 4))


@pytest.mark.parametrize("equation, output_shape, bias_axes, shape", DIAGONALS, ids=str)
def test_diagonals_agree_with_finite_differences(equation, output_shape, bias_axes, shape, rng):
    layer = EinsumDense(equation, output_shape, bias_axes=bias_axes, activation="tanh",
                        bias_initializer="random_normal", dtype="float64", seed=0)
    layer.build(shape[1:])
    report = gn.gradcheck.check_layer(layer, rng.normal(size=shape))
    assert report["max_error"] < 1e-7 and set(report["errors"]) >= {"input", "kernel"}


def test_a_kernel_diagonal_alone_gets_a_gradient_and_a_float32_input_keeps_its_dtype(rng):
    layer = EinsumDense("abb,bbc->ac", 4, seed=0)
    x = rng.normal(size=(5, 3, 3)).astype(np.float32)
    dx = layer.backward(np.ones(layer(x).shape, np.float32))
    off = ~np.eye(3, dtype=bool)
    assert dx.dtype == layer.grads["kernel"].dtype == np.float32
    assert not dx[:, off].any() and dx[:, ~off].all()
    assert not layer.grads["kernel"][off].any() and layer.grads["kernel"][~off].all()


def test_diagonal_refusals():
    with pytest.raises(ValueError, match=r"output's part of the equation must name each axis once, got 'ab,bc->acc'"):
        EinsumDense("ab,bc->acc", (4, 4))
    with pytest.raises(NotImplementedError, match=r"the batch's letter 'a' repeated in the input's part \(a diagonal "
                                                  r"across the batch\) is not supported, got 'aba,bc->ac'"):
        EinsumDense("aba,bc->ac", 4)
    with pytest.raises(ValueError, match=r"axes of letter 'b' in 'abb,bc->ac' must have one size \(a diagonal\), "
                                         r"got samples of shape \(3, 4\)"):
        EinsumDense("abb,bc->ac", 4)(np.ones((2, 3, 4)))
