"""CategoryEncoding: outputs against Keras 3.15's layer, numbers by hand, in a model, and refusals."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import CategoryEncoding, Dense, Input

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

INPUTS = [np.array([[0], [3], [1]]), np.array([[0, 1, 1], [3, 3, 2], [1, 0, 4]]), np.array([[[0, 4], [2, 2]], [[1, 1], [3, 0]]])]


@pytest.mark.parametrize("mode, index", [(mode, i) for mode in ("one_hot", "multi_hot", "count")
                                         for i in range(len(INPUTS)) if mode == "one_hot" or INPUTS[i].ndim == 2])
def test_outputs_match_keras(mode, index):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = INPUTS[index]
    ours = CategoryEncoding(5, output_mode=mode)(x)
    theirs = np.asarray(keras.layers.CategoryEncoding(num_tokens=5, output_mode=mode)(x))
    assert ours.shape == theirs.shape == (x.shape[0], *CategoryEncoding(5, output_mode=mode).output_shape(x.shape[1:]))
    np.testing.assert_array_equal(ours, theirs)


def test_an_empty_batch_gives_no_rows():
    for mode in ("one_hot", "multi_hot", "count"):
        assert CategoryEncoding(4, output_mode=mode)(np.zeros((0, 1), int)).shape == (0, 4)


def test_worked_numbers():
    x = np.array([[2, 0, 2]])
    assert CategoryEncoding(3, output_mode="one_hot")(x).tolist() == [[[0, 0, 1], [1, 0, 0], [0, 0, 1]]]
    assert CategoryEncoding(3)(x).tolist() == [[1, 0, 1]]
    assert CategoryEncoding(3, output_mode="count")(x).tolist() == [[1, 0, 2]]


def test_in_a_model_it_trains_saves_and_loads(tmp_path, rng):
    x = rng.integers(0, 4, (200, 2)).astype(np.float32)
    y = (x[:, 0] == x[:, 1]).astype(np.float32)           # same category twice: a multi-hot with a single 1
    model = gn.Sequential([Input((2,)), CategoryEncoding(4), Dense(8, activation="relu"),
                           Dense(1, activation="sigmoid")], seed=0)
    assert model.output_shape == (None, 1) and model.layers[0].output_shape((2,)) == (4,)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.05), metrics=["accuracy"])
    model.fit(x, y, epochs=60, batch_size=32, verbose=0)
    assert model.evaluate(x, y, verbose=0)[1] == 1.0
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), model.predict(x, verbose=0))


def test_refusals():
    with pytest.raises(ValueError, match="output_mode must be one of"):
        CategoryEncoding(3, output_mode="onehot")      # ("binary" is Keras' older "multi_hot")
    with pytest.raises(ValueError, match="num_tokens: expected a positive integer"):
        CategoryEncoding(0)
    with pytest.raises(ValueError, match="sparse=True is not supported"):
        CategoryEncoding(3, sparse=True)
    with pytest.raises(ValueError, match=r"indices must be in \[0, 3\) \(the CategoryEncoding's num_tokens\), got 3"):
        CategoryEncoding(3)(np.array([[0, 3]]))
    with pytest.raises(ValueError, match=r"expected integer indices \(a CategoryEncoding's input\), got 1.5"):
        CategoryEncoding(3)(np.array([[1.5]]))
    # more axes: counted along axis 1, as Keras (tests/test_gaps44.py): two zeros at each of 2 positions
    np.testing.assert_array_equal(CategoryEncoding(3, output_mode="count")(np.zeros((1, 2, 2))), [[[2, 0, 0], [2, 0, 0]]])
    model = gn.Sequential([Input((1,)), CategoryEncoding(3), Dense(1)])
    model.compile("mse", "sgd")
    with pytest.raises(ValueError, match=r"^x: indices must be in \[0, 3\)"):
        model.fit(np.array([[0.0], [5.0]]), np.zeros(2), verbose=0)
