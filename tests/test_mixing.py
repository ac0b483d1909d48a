"""MixUp and CutMix: values against Keras 3.15's ``transform_images``/``transform_labels`` given the
draws glassnet made (kept on ``_drawn`` after a training call), the draws' distribution against
Keras' ``get_random_transformation``, the gradient against PyTorch autograd (float64), the dict
form, the model rule (images only, training only), ``fit`` on a PyDataset of mixed batches, the
errors. The layer contract and finite differences are in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import CutMix, MixUp
from glassnet.utils import PyDataset


def _keras():
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras", reason="Keras oracle not installed")


@pytest.mark.parametrize("alpha", [0.2, 1.0, 3.0])
def test_mixup_matches_keras_for_the_same_draws(alpha, rng):
    keras = _keras()
    x = rng.uniform(0, 255, size=(7, 5, 6, 3)).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, 7)]
    layer = MixUp(alpha, seed=1)
    out = layer({"images": x, "labels": y})
    drawn = layer._drawn
    assert out["images"].dtype == np.float32 and out["labels"].dtype == np.float32
    assert sorted(drawn["permutation_order"]) == list(range(7)) and np.any(drawn["permutation_order"] != np.arange(7))
    theirs = keras.layers.MixUp(alpha)
    transformation = {"permutation_order": drawn["permutation_order"],
                      "mix_weight": drawn["mix_weight"].astype(np.float32)}
    np.testing.assert_allclose(out["images"], np.asarray(theirs.transform_images(x, transformation)), rtol=1e-6, atol=1e-4)
    np.testing.assert_allclose(out["labels"], np.asarray(theirs.transform_labels(y, transformation)), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("factor", [1.0, (0.3, 0.6), 0.1])
def test_cutmix_matches_keras_for_the_same_draws(factor, rng):
    keras = _keras()
    x = rng.uniform(0, 1, size=(8, 9, 7, 2)).astype(np.float32)
    y = rng.dirichlet(np.ones(3), 8).astype(np.float32)
    layer = CutMix(factor, seed=4)
    out = layer({"images": x, "labels": y})
    drawn = layer._drawn
    theirs = keras.layers.CutMix(factor)
    # Keras' own mask and label weight from glassnet's box (its float32 corners)
    x0, x1, y0, y1 = (drawn["box"][:, k].astype(np.float32) for k in range(4))
    masks, weight = theirs._generate_batch_mask(x.shape, (x0, x1, y0, y1))
    transformation = {"permutation_order": drawn["permutation_order"].astype(np.int32), "batch_masks": masks,
                      "mix_weight": weight}
    expected = np.asarray(theirs.transform_images(x, transformation))
    assert np.any(out["images"] != x)
    np.testing.assert_array_equal(out["images"], expected)                # copies: bit for bit
    np.testing.assert_allclose(drawn["mix_weight"], np.asarray(weight).ravel(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out["labels"], np.asarray(theirs.transform_labels(y, transformation)), rtol=1e-5, atol=1e-6)


def test_draws_follow_keras_rule():
    keras = _keras()
    x = np.zeros((3000, 8, 8, 1), np.float32)
    for alpha in (0.2, 1.0):
        ours = MixUp(alpha, seed=0)
        ours(x)
        theirs = keras.layers.MixUp(alpha, seed=0).get_random_transformation(x)
        np.testing.assert_allclose(np.quantile(ours._drawn["mix_weight"], [0.1, 0.3, 0.5, 0.7, 0.9]),
                                   np.quantile(np.asarray(theirs["mix_weight"]), [0.1, 0.3, 0.5, 0.7, 0.9]), atol=0.04)
    for factor in (1.0, (0.4, 0.8)):
        # one alpha per batch: pool several batches on each side
        ours, theirs = CutMix(factor, seed=0), keras.layers.CutMix(factor, seed=0)
        a = np.concatenate([(ours(x[:40]), ours._drawn["mix_weight"])[1] for _ in range(200)])
        b = np.concatenate([np.asarray(theirs.get_random_transformation(x[:40])["mix_weight"]).ravel()
                            for _ in range(200)])
        np.testing.assert_allclose(np.quantile(a, [0.2, 0.5, 0.8]), np.quantile(b, [0.2, 0.5, 0.8]), atol=0.06)
        box = ours._drawn["box"]
        assert np.all(box[:, 0] >= 0) and np.all(box[:, 1] <= 8 + 1e-9) and np.all(box[:, 2] >= 0)
        np.testing.assert_allclose((box[:, 1] - box[:, 0]) / 8, (box[:, 3] - box[:, 2]) / 8)   # one ratio, both sides


def test_mixup_gradient_matches_torch(rng, torch):
    x = rng.normal(size=(5, 3, 4, 2))
    layer = MixUp(1.0, seed=3, dtype="float64")
    layer.needs_input_gradient = True
    out = layer(x)
    grad_output = rng.normal(size=out.shape)
    ours = layer.backward(grad_output)
    images = torch.tensor(x).requires_grad_()
    w = torch.tensor(layer._drawn["mix_weight"])[:, None, None, None]
    theirs = w * images + (1 - w) * images[torch.tensor(layer._drawn["permutation_order"])]
    np.testing.assert_allclose(out, theirs.detach().numpy(), atol=1e-13)
    (theirs * torch.tensor(grad_output)).sum().backward()
    np.testing.assert_allclose(ours, images.grad.numpy(), atol=1e-13)


def test_cutmix_gradient_matches_torch(rng, torch):
    x = rng.normal(size=(6, 5, 4, 3))
    layer = CutMix((0.5, 1.0), seed=2, dtype="float64")
    layer.needs_input_gradient = True
    out = layer(x)
    grad_output = rng.normal(size=out.shape)
    ours = layer.backward(grad_output)
    x0, x1, y0, y1 = (torch.tensor(layer._drawn["box"][:, k])[:, None, None, None] for k in range(4))
    rows, cols = torch.arange(5.0)[None, :, None, None], torch.arange(4.0)[None, None, :, None]
    inside = (cols >= x0) & (cols < x1) & (rows >= y0) & (rows < y1)
    images = torch.tensor(x).requires_grad_()
    theirs = torch.where(inside, images[torch.tensor(layer._drawn["permutation_order"])], images)
    assert inside.any() and not inside.all()
    np.testing.assert_array_equal(out, theirs.detach().numpy())
    (theirs * torch.tensor(grad_output)).sum().backward()
    np.testing.assert_allclose(ours, images.grad.numpy(), atol=1e-13)


@pytest.mark.parametrize("cls", [MixUp, CutMix])
def test_on_data_it_mixes_unless_told_not_to(cls, rng):
    x, y = rng.normal(size=(4, 3, 3, 1)), np.eye(4)
    layer = cls(seed=0)
    assert not np.array_equal(layer(x), x.astype(np.float32))                  # Keras': training by default
    out = layer({"images": x, "labels": y}, training=False)
    assert np.array_equal(out["images"], x.astype(np.float32)) and out["labels"] is y
    out = layer({"images": x})
    assert set(out) == {"images"}
    # labels: one row per image, each row summing to 1 still (a mix of two one-hot rows)
    out = layer({"images": x, "labels": y})
    np.testing.assert_allclose(out["labels"].sum(axis=1), 1.0)
    np.testing.assert_allclose(out["labels"][np.arange(4), np.arange(4)] + out["labels"][np.arange(4), layer._drawn["permutation_order"]],
                               np.where(layer._drawn["permutation_order"] == np.arange(4), 2.0, 1.0))
    # 1-D float labels: mixed per sample (Keras would broadcast them to (n, n))
    flat = layer({"images": x, "labels": np.arange(4.0)})["labels"]
    w = layer._drawn["mix_weight"]
    np.testing.assert_allclose(flat, w * np.arange(4.0) + (1 - w) * layer._drawn["permutation_order"])


@pytest.mark.parametrize("cls", [MixUp, CutMix])
def test_in_a_model_it_mixes_the_images_of_training_only(cls, rng):
    x = rng.normal(size=(6, 4, 4, 1)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, 6)]
    model = gn.Sequential([gn.layers.Input((4, 4, 1)), cls(seed=0), gn.layers.Flatten(), gn.layers.Dense(2, activation="softmax")],
                          seed=1)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    plain = gn.Sequential([gn.layers.Input((4, 4, 1)), gn.layers.Flatten(), gn.layers.Dense(2, activation="softmax")])
    plain.compile(loss="categorical_crossentropy", optimizer="sgd")
    plain.set_weights(model.get_weights())
    np.testing.assert_array_equal(model.predict(x, verbose=0), plain.predict(x, verbose=0))     # identity at inference
    assert model.evaluate(x, y, verbose=0) == plain.evaluate(x, y, verbose=0)
    mixed = model.layers[0].forward(x, training=True)
    assert not np.array_equal(mixed, x)
    # fit's batch: the images mixed, the targets as given (Keras' rule inside a model): the same step
    # as the model without the layer takes on the images the layer made, with the targets unmixed
    model = gn.Sequential([gn.layers.Input((4, 4, 1)), cls(seed=0), gn.layers.Flatten(), gn.layers.Dense(2, activation="softmax")],
                          seed=1)
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    plain.set_weights(model.get_weights())
    model.train_on_batch(x, y)
    plain.train_on_batch(cls(seed=0).forward(x, training=True), y)
    for a, b in zip(model.get_weights(), plain.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_fit_on_a_pydataset_of_mixed_batches_mixes_the_labels(rng):
    x = rng.normal(size=(16, 4, 4, 1)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]

    class Mixed(PyDataset):
        def __init__(self):
            super().__init__()
            self.mix, self.seen = MixUp(1.0, seed=0), []

        def __len__(self):
            return 2

        def __getitem__(self, i):
            batch = self.mix({"images": x[i * 8:(i + 1) * 8], "labels": y[i * 8:(i + 1) * 8]})
            self.seen.append(batch["labels"])
            return batch["images"], batch["labels"]

    model = gn.Sequential([gn.layers.Input((4, 4, 1)), gn.layers.Flatten(), gn.layers.Dense(3, activation="softmax")], seed=0)
    model.compile(loss="categorical_crossentropy", optimizer="adam")
    data = Mixed()
    history = model.fit(data, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2 and np.isfinite(history.history["loss"]).all()
    assert len(data.seen) >= 4 and all(s.shape == (8, 3) for s in data.seen)
    soft = np.concatenate(data.seen)
    np.testing.assert_allclose(soft.sum(axis=1), 1.0, rtol=1e-6)
    assert np.any((soft > 0.01) & (soft < 0.99))                       # fractional targets reached fit


def test_mixup_keeps_float64_and_round_trips_its_config():
    layer = MixUp(0.5, seed=7, dtype="float64")
    out = layer(np.ones((3, 2, 2, 1)))
    assert out.dtype == np.float64
    assert MixUp.from_config(layer.get_config()).get_config() == layer.get_config() == {**layer.get_config(), "alpha": 0.5}
    assert CutMix.from_config(CutMix(0.3).get_config()).factor == (0.0, 0.3)


@pytest.mark.parametrize("make,error,message", [
    (lambda: MixUp(0.0), ValueError, r"^MixUp: alpha must be a finite number > 0, got 0\.0"),
    (lambda: MixUp("0.2"), ValueError, r"^MixUp: alpha must be a finite number > 0, got '0\.2'"),
    (lambda: CutMix(1.5), ValueError, r"^CutMix: factor must be a number or a pair \(lower, upper\) of numbers in \[0, 1\], got 1\.5"),
    (lambda: CutMix((0.1, 0.2, 0.3)), ValueError, r"^CutMix: factor must be"),
    (lambda: CutMix()({"images": np.ones((2, 2, 2, 1)), "bounding_boxes": {}}), ValueError,
     r"^CutMix: a dict input takes the keys 'images' and, optionally, 'labels' and 'segmentation_masks', got "
     r"\['bounding_boxes', 'images'\]; CutMix does not move bounding_boxes in glassnet"),
    (lambda: MixUp()({"images": np.ones((2, 2, 2, 1)), "bounding_boxes": {}}), ValueError,
     r"^MixUp: bounding_box_format: needed with 'bounding_boxes'"),
    (lambda: CutMix()({"labels": np.ones((2, 2))}), ValueError, r"^CutMix: a dict input takes the keys 'images'"),
    (lambda: MixUp()({"images": np.ones((2, 2, 2, 1)), "labels": np.array([0, 1])}), TypeError,
     r"^MixUp: labels must be floats .*got int64: .*one-hot encode"),
    (lambda: CutMix()({"images": np.ones((2, 2, 2, 1)), "labels": np.ones((3, 2))}), ValueError,
     r"^CutMix: labels must have one row per image, 2, got shape \(3, 2\)"),
    (lambda: MixUp()(np.ones((2, 2, 2))), ValueError, r"MixUp"),
], ids=["alpha0", "alpha-str", "factor", "factor3", "cutmix-boxes", "mixup-boxes-no-format", "no-images", "int-labels", "rows", "rank"])
def test_bad_arguments_name_the_layer(make, error, message):
    with pytest.raises(error, match=message):
        make()


@pytest.mark.parametrize("name", ["MixUp", "CutMix"])
def test_keras_in_a_model_mixes_the_images_of_training_only(name, rng):
    # the rule glassnet follows: a layer in a model sees the images alone (no labels to mix), and
    # mixes them with training=True only
    keras = _keras()
    x = rng.uniform(0, 1, size=(6, 5, 5, 1)).astype(np.float32)
    model = keras.Sequential([keras.Input((5, 5, 1)), getattr(keras.layers, name)(seed=0)])
    np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), x)
    assert not np.array_equal(np.asarray(model(x, training=True)), x)
    ours = gn.Sequential([gn.layers.Input((5, 5, 1)), getattr(gn.layers, name)(seed=0)])
    np.testing.assert_array_equal(ours.predict(x, verbose=0), x)


def test_in_a_functional_model(rng):
    inputs = gn.layers.Input((4, 4, 1))
    outputs = gn.layers.Dense(2)(gn.layers.Flatten()(CutMix(seed=0)(MixUp(seed=0)(inputs))))
    model = gn.Model(inputs, outputs)
    model.compile(loss="mse", optimizer="sgd")
    x = rng.normal(size=(6, 4, 4, 1)).astype(np.float32)
    model.fit(x, rng.normal(size=(6, 2)), epochs=1, verbose=0)
    assert model.predict(x, verbose=0).shape == (6, 2)
    with pytest.raises(TypeError, match=r"^MixUp: the dict form is for data, not for a model's tensors"):
        MixUp()({"images": inputs})
