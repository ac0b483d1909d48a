"""Review of session 47's docs (docsrev47): every code block of the changed sections runs as a user
would run it, and the facts they state hold."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn

DOCS = Path(__file__).resolve().parent.parent / "docs"


def _blocks(page, heading):
    """The ```python blocks of ``page`` under the ``## heading`` section (up to the next ``## ``)."""
    text = (DOCS / page).read_text()
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else len(text)]
    return re.findall(r"```python\n(.*?)```", section, re.S)


def _box_data(n=4, h=40, w=56):
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, (n, h, w, 3)).astype("float32")
    xy = rng.uniform(0, 20, (n, 3, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(4, 18, (n, 3, 2))], -1).astype("float32")
    labels = rng.integers(0, 4, (n, 3))
    return images, boxes, labels


def test_bounding_boxes_layer_blocks_run_as_written():
    """docs/bounding_boxes.md, "Boxes through the image layers": the RandomFlip call and the
    Pipeline feeding `fit`, with the names the text leaves to the reader (images, boxes, labels,
    a model, make_targets) defined as a user would."""
    flip_block, fit_block = _blocks("bounding_boxes.md", "Boxes through the image layers")
    images, boxes, labels = _box_data()
    scope = {"gn": gn, "np": np, "images": images, "boxes": boxes, "labels": labels}
    exec(flip_block, scope)
    out = scope["out"]
    assert out["images"].shape == images.shape
    assert out["bounding_boxes"]["boxes"].shape == boxes.shape
    assert out["bounding_boxes"]["boxes"].dtype == np.float32
    assert out["bounding_boxes"]["labels"].dtype == labels.dtype
    # a flipped image's boxes are x -> width - x with the ends swapped; an unflipped one's unchanged
    w = images.shape[2]
    for i in range(len(images)):
        got = out["bounding_boxes"]["boxes"][i]
        if np.array_equal(out["images"][i], images[i]):
            np.testing.assert_allclose(got, boxes[i])
        else:
            np.testing.assert_allclose(out["images"][i], images[i][:, ::-1])
            np.testing.assert_allclose(got[:, [0, 2]], w - boxes[i][:, [2, 0]], atol=1e-5)

    model = gn.Sequential([gn.Input((64, 64, 3)), gn.layers.Rescaling(1 / 255),
                           gn.layers.Conv2D(2, 3, strides=4, activation="relu"), gn.layers.Flatten(),
                           gn.layers.Dense(4)], seed=0)
    model.compile(optimizer="adam", loss="mse")
    images, boxes, labels = _box_data(n=64, h=48, w=48)
    scope = {"gn": gn, "np": np, "images": images, "boxes": boxes, "labels": labels, "model": model,
             "make_targets": lambda bb: (bb["boxes"][:, 0] / 64.0).astype("float32")}
    fit_block = fit_block.replace("epochs=10)", "epochs=2, verbose=0)")
    exec(fit_block, scope)
    assert len(model.history.history["loss"]) == 2
    assert np.isfinite(model.history.history["loss"]).all()


def test_augmix_refuses_bounding_box_format_saying_why():
    """docs/bounding_boxes.md: RandomElasticTransform, CutMix, AugMix and CLAHE each refuse
    `bounding_box_format` by name, saying they do not move boxes. AugMix's refusal was Python's
    generic "unexpected keyword argument" listing its arguments, unlike the other three's."""
    for cls in (gn.layers.AugMix, gn.layers.CutMix, gn.layers.RandomElasticTransform,
                gn.layers.ContrastLimitedAdaptiveHistogramEqualization):
        with pytest.raises(TypeError, match="bounding_box_format: not taken.*does not move bounding boxes"):
            cls(bounding_box_format="xyxy")


def test_parity_count_of_image_layers_taking_bounding_box_format():
    """docs/keras_parity.md said "the other 24 image layers take it"; the row it points to lists 26
    and 26 do (Keras 3.15's 31 image preprocessing layers less MaxNumBoundingBoxes and the four
    refusing it)."""
    text = (DOCS / "keras_parity.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| `bounding_box_format` of `RandomFlip`"))
    names = re.findall(r"`(\w+)`", row.split(" | ")[0].split(", with Keras'")[0])
    names = [n for n in names if n != "bounding_box_format"]
    assert len(names) == 26
    for name in names:
        assert hasattr(gn.layers, name), name
    assert "The other 26 image layers take it" in text


def _adam_model():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 1)).astype("float32")
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1)], seed=0)
    opt = gn.optimizers.Adam(0.01)
    model.compile(optimizer=opt, loss="mse")
    model.fit(X, y, epochs=1, batch_size=8, verbose=0)
    return opt


def test_optimizer_variables_writes_as_the_docs_show():
    """docs/optimizers.md and guide/models.md: `opt.variables[0].assign(0)`,
    `opt.variables[1][...] = 1e-3`, `+=`, `assign_add` set the optimizer's numbers, through the
    arrays' dtypes as Keras' variables (Keras 3.15: assign(1.5) to its int64 step count gives 1)."""
    opt = _adam_model()
    step, rate = opt.variables[0], opt.variables[1]
    assert step.dtype == np.int64 and rate.dtype == np.float32 and int(step) == opt.iterations == 2
    step.assign(0)
    assert opt.iterations == 0
    rate[...] = 1e-3
    assert opt.learning_rate == float(np.float32(1e-3))
    step += 1
    step.assign_add(1)
    assert opt.iterations == 2
    step.assign(1.5)
    assert opt.iterations == 1


def test_optimizer_variables_assign_sub_and_a_named_refusal_of_a_string():
    """Keras' variables have `assign_sub` (the step count's was an AttributeError here), and a
    string written into the step count said only "invalid literal for int() with base 10"."""
    opt = _adam_model()
    step, rate = opt.variables[0], opt.variables[1]
    step.assign(5)
    step.assign_sub(2)
    assert opt.iterations == 3 and int(step) == 3
    with pytest.raises(TypeError, match=r"optimizer.variables: the step count .* one number"):
        step.assign("a")
    with pytest.raises(TypeError, match=r"optimizer.variables: the learning rate .*one number"):
        rate.assign("fast")
    assert opt.iterations == 3 and opt.learning_rate == 0.01
    with pytest.raises(ValueError, match=r"step count \(iteration\) must be in \[0, 2\*\*63\)"):
        step.assign_sub(4)
    assert opt.iterations == 3


def test_per_output_loss_trackers_count_samples_where_keras_counts_batches():
    """guide/models.md said each output's `compile_loss/<out>_loss` tracker is Keras'; with an
    uneven last batch Keras 3.15 counts batches (its traced step sees no batch size), glassnet
    samples: the docs now say so. 20 samples in batches of 8."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3)).astype("float32")
    ys = [rng.normal(size=(20, 1)).astype("float32"), rng.normal(size=(20, 2)).astype("float32")]
    counts = {}
    for lib in (keras, gn):
        i = lib.Input((3,))
        model = lib.Model(i, [lib.layers.Dense(1, name="a")(i), lib.layers.Dense(2, name="b")(i)])
        model.compile(optimizer="sgd", loss=["mse", "mae"])
        model.evaluate(x, ys, batch_size=8, verbose=0)
        tree = model.get_state_tree()["metrics_variables"]
        counts[lib] = float(np.asarray(tree["compile_loss"]["a_loss"]["count"]))
        assert float(np.asarray(tree["loss"]["count"])) == 20.0
    assert counts[gn] == 20.0 and counts[keras] == 3.0
    text = (DOCS / "guide" / "models.md").read_text()
    assert "counts batches when the last batch is partial" in text


def test_clahe_lists_no_seed_state_as_keras():
    """guide/models.md: the random image layers hold a seed state, "the 25 Keras 3.15 seeds; not
    AutoContrast or Equalization, which draw nothing". ContrastLimitedAdaptiveHistogramEqualization
    draws nothing either and Keras 3.15's lists no variable, but glassnet's listed a uint32 [0, 0]
    (it inherits the random intensity layers' base)."""
    layer = gn.layers.ContrastLimitedAdaptiveHistogramEqualization()
    layer(np.zeros((1, 16, 16, 3), "float32"))
    assert layer.variables == [] and layer.non_trainable_variables == []
    model = gn.Sequential([gn.Input((16, 16, 3)), gn.layers.ContrastLimitedAdaptiveHistogramEqualization(),
                           gn.layers.RandomFlip(seed=1)])
    assert len(model.variables) == 1                # RandomFlip's seed state alone


def test_clahe_variables_equal_keras():
    keras = pytest.importorskip("keras")
    x = np.random.default_rng(0).uniform(0, 255, (1, 16, 16, 3)).astype("float32")
    k = keras.layers.ContrastLimitedAdaptiveHistogramEqualization()
    k(x)
    g = gn.layers.ContrastLimitedAdaptiveHistogramEqualization()
    g(x)
    assert len(k.variables) == len(g.variables) == 0


def _flat_paths(tree, prefix=""):
    for key in tree:
        if isinstance(tree[key], dict):
            yield from _flat_paths(tree[key], prefix + key + "/")
        else:
            yield prefix + key


def test_seed_state_paths_after_clahe_are_keras_numbering():
    """With CLAHE's extra seed state, every later seed generator's number was one past Keras'."""
    keras = pytest.importorskip("keras")
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.RandomFlip(seed=2),
                          keras.layers.ContrastLimitedAdaptiveHistogramEqualization(),
                          keras.layers.RandomContrast(0.1, seed=4)])
    g = gn.Sequential([gn.Input((16, 16, 3)), gn.layers.RandomFlip(seed=2),
                       gn.layers.ContrastLimitedAdaptiveHistogramEqualization(),
                       gn.layers.RandomContrast(0.1, seed=4)])
    want = sorted(v.path for v in k.variables)
    got = sorted(_flat_paths(g.get_state_tree()["non_trainable_variables"]))
    assert got == want == ["seed_generator/seed_generator_state", "seed_generator_1/seed_generator_state"]


def test_optimizer_variables_under_a_schedule_list_the_step_count_alone():
    """optimizers.md: under a learning-rate schedule Keras 3.15 lists no rate variable (a Dense(1)
    on 3 features with Adam: the step count and 4 slots), and glassnet the same."""
    rng = np.random.default_rng(0)
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(1)], seed=0)
    opt = gn.optimizers.Adam(gn.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    model.compile(optimizer=opt, loss="mse")
    model.fit(rng.normal(size=(16, 3)), rng.normal(size=(16, 1)), batch_size=8, verbose=0)
    listed = opt.variables
    assert len(listed) == 5 and listed[0].dtype == np.int64 and np.shape(listed[1]) == (3, 1)
    listed[0].assign(0)
    assert opt.iterations == 0
