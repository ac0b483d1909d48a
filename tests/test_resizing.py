"""Resizing and CenterCrop: outputs against Keras 3.15 (TensorFlow's resize) over random sizes,
interpolations and aspect-ratio modes, gradients by finite differences, inside a model, and their
errors. The layer contract is in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet.layers import CenterCrop, Resizing
from glassnet.layers.resizing import nearest_weights
from glassnet.layers.spatial import bilinear_weights


def test_resizing_and_center_crop_match_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    for _ in range(120):
        h, w, th, tw = (int(v) for v in rng.integers(1, 20, 4))
        mode = int(rng.integers(0, 3))
        settings = dict(interpolation=str(rng.choice(["bilinear", "nearest"])), crop_to_aspect_ratio=mode == 1,
                        pad_to_aspect_ratio=mode == 2, fill_value=0.5 if mode == 2 else 0.0)
        x = rng.normal(size=(2, h, w, 2)).astype(np.float32)
        ours, theirs = Resizing(th, tw, **settings)(x), np.asarray(keras.layers.Resizing(th, tw, **settings)(x))
        # TensorFlow places its bilinear samples in float32: ~1e-5 apart after large zooms
        np.testing.assert_allclose(ours, theirs, atol=5e-5, err_msg=f"{(h, w)} -> {(th, tw)} {settings}")
        np.testing.assert_allclose(CenterCrop(th, tw)(x), np.asarray(keras.layers.CenterCrop(th, tw)(x)), atol=5e-5,
                                   err_msg=f"{(h, w)} -> {(th, tw)}")


def test_the_weights_are_tensorflow_s_positions():
    assert bilinear_weights(2, 4).tolist() == [[0.5, 0.5, 0.0, 0.0], [0.0, 0.0, 0.5, 0.5]]   # no antialiasing
    # 5.5 * 26 / 11 is 13: in float32 the position is 12.99999..., and TensorFlow reads pixel 12
    assert nearest_weights(11, 26)[5].argmax() == 12
    assert nearest_weights(4, 8).argmax(axis=1).tolist() == [1, 3, 5, 7]


@pytest.mark.parametrize("layer, shape", [
    (lambda: Resizing(5, 7, dtype="float64"), (3, 4, 2)),
    (lambda: Resizing(2, 3, interpolation="nearest", dtype="float64"), (5, 4, 1)),
    (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, dtype="float64"), (6, 3, 2)),
    (lambda: Resizing(4, 4, pad_to_aspect_ratio=True, fill_value=1.0, dtype="float64"), (6, 3, 2)),
    (lambda: CenterCrop(3, 3, dtype="float64"), (5, 6, 2)),
    (lambda: CenterCrop(6, 3, dtype="float64"), (4, 5, 1))], ids=range(6))
def test_gradients_agree_with_finite_differences(layer, shape, rng):
    report = check_layer(layer(), rng.normal(size=(2, *shape)))
    assert report["max_error"] < 1e-6 and "input" in report["errors"]


def test_inside_a_model_the_summary_fit_and_files_know_the_new_size(rng, tmp_path):
    x, y = rng.uniform(size=(16, 12, 9, 1)), rng.integers(0, 2, 16)
    model = gn.Sequential([gn.Input((12, 9, 1)), Resizing(8, 8, crop_to_aspect_ratio=True), CenterCrop(6, 6),
                           gn.layers.Conv2D(2, 3), gn.layers.Flatten(), gn.layers.Dense(1, activation="sigmoid")], seed=0)
    lines = []
    model.summary(print_fn=lines.append)
    assert "(None, 8, 8, 1)" in "\n".join(lines) and "(None, 6, 6, 1)" in "\n".join(lines)
    model.compile(loss="binary_crossentropy", optimizer="adam")
    model.fit(x, y, epochs=2, verbose=0)
    model.save(tmp_path / "r.npz")
    loaded = gn.load_model(tmp_path / "r.npz")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert loaded.layers[1].get_config() == model.layers[1].get_config()
    assert {k: v for k, v in model.layers[1].get_config().items() if k != "input_shape"} == {
        "name": "center_crop", "height": 6, "width": 6}


@pytest.mark.parametrize("make, message", [
    (lambda: Resizing(0, 4), r"Resizing: height and width must be a positive integer or 2 of them"),
    (lambda: Resizing(4, 4, interpolation="bicubic"), r"Resizing: interpolation must be one of \['bilinear', 'nearest'\], got 'bicubic'"),
    (lambda: Resizing(4, 4, crop_to_aspect_ratio=True, pad_to_aspect_ratio=True), r"give crop_to_aspect_ratio or pad_to_aspect_ratio, not both"),
    (lambda: Resizing(4, 4, fill_mode="reflect"), r"Resizing: fill_mode must be 'constant'"),
    (lambda: CenterCrop(2, 2)(np.ones((1, 4, 4))), r"layer CenterCrop: expected input of shape \(batch, height, width, channels\)"),
], ids=range(5))
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()
