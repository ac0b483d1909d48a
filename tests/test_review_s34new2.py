"""Review s34new2: today's changes (a layer called alone on a list, sklearn forms, dask sweep's
shared files, names with lone surrogates, Input(shape=()))."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


# -- fd50256: a layer called alone on a list of arrays -----------------------------------------------
# Keras 3.15's layers without an input_spec read a list of arrays as one array (stacked), as
# glassnet did before fd50256: a list of images to an augmentation layer is a batch of them.

def test_image_layers_take_a_list_of_images_as_a_batch():
    img = np.random.default_rng(0).random((8, 8, 3)).astype("float32")
    assert L.RandomFlip(seed=0)([img, img]).shape == (2, 8, 8, 3)
    assert L.Resizing(4, 4)([img, img]).shape == (2, 4, 4, 3)
    assert L.CenterCrop(4, 4)([img, img]).shape == (2, 4, 4, 3)
    assert L.Pipeline([L.RandomFlip()], seed=0)((img, img)).shape == (2, 8, 8, 3)


@pytest.mark.parametrize("make", [lambda: L.Rescaling(2.0), lambda: L.Activation("relu"), lambda: L.ReLU(),
                                  lambda: L.Discretization(bin_boundaries=[0.5]), lambda: L.GaussianNoise(0.1),
                                  lambda: L.Dropout(0.5), lambda: L.UnitNormalization()])
def test_elementwise_and_preprocessing_layers_stack_a_list(make):
    a, b = np.array([0.1, 0.9]), np.array([0.7, 0.2])
    assert np.asarray(make()([a, b])).shape == (2, 2)        # Keras 3.15: (2, 2) too


def test_masking_stacks_a_list_of_sequences():
    seq = np.ones((3, 2))
    assert L.Masking()([seq, seq]).shape == (2, 3, 2)


def test_rescaling_list_values():
    out = L.Rescaling(2.0)([np.array([1.0, 2.0]), np.array([3.0, 4.0])])
    np.testing.assert_allclose(out, [[2.0, 4.0], [6.0, 8.0]])


def test_layers_keras_refuses_still_refuse_a_list():
    x = np.ones((2, 3), dtype="float32")
    for layer in (L.Dense(2), L.Flatten(), L.SpatialDropout1D(0.5), L.LayerNormalization()):
        with pytest.raises(TypeError, match="takes one input"):
            layer([x, x])


def test_string_lookup_and_text_vectorization_take_a_list_of_string_arrays():
    # Keras 3.15: [[1, 2], [2, 1]] and a (2, 2) batch of ids; glassnet said "got numbers (list)"
    out = L.StringLookup(vocabulary=["a", "b"])([np.array(["a", "b"]), np.array(["b", "a"])])
    np.testing.assert_array_equal(out, [[1, 2], [2, 1]])
    tv = L.TextVectorization()
    tv.adapt(["a b", "c d"])
    np.testing.assert_array_equal(tv([np.array(["a b"]), np.array(["c"])]), tv(["a b", "c"]))


# -- 0c76fd1: a Dask sweep refuses a file-writing callback shared by combinations --------------------

def _build_small(units):
    model = gn.Sequential([L.Dense(units, input_dim=2), L.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    return model


def test_sweep_refuses_a_shared_subclass_of_a_file_writing_callback(tmp_path):
    pytest.importorskip("dask")
    from glassnet.dask import sweep

    class MyLogger(gn.callbacks.CSVLogger):         # writes where its base does: checked by class
        pass
    X, y = np.random.default_rng(0).random((20, 2)), np.random.default_rng(1).random((20, 1))
    with pytest.raises(ValueError, match=r"sweep: MyLogger's filename .* would be written by several combinations"):
        sweep(_build_small, {"units": [2, 3]}, X, y, scheduler="synchronous",
              fit_kwargs={"epochs": 1, "callbacks": [MyLogger(str(tmp_path / "log.csv"))]})
    assert list(tmp_path.iterdir()) == []


def test_sweep_takes_a_tuple_of_callbacks_in_fit_kwargs():
    # fit takes a tuple; the shared-file check concatenated it to a list: TypeError
    pytest.importorskip("dask")
    from glassnet.dask import sweep
    X, y = np.random.default_rng(0).random((20, 2)), np.random.default_rng(1).random((20, 1))
    results = sweep(_build_small, {"units": [2, 3]}, X, y, scheduler="synchronous",
                    fit_kwargs={"epochs": 1, "callbacks": (gn.callbacks.EarlyStopping(monitor="loss"),)})
    assert len(results) == 2
