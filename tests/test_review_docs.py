"""The documentation's examples that no other test runs, run as written (with small stand-ins
where a snippet reads data it does not make), and the CLI's documented choices kept complete."""
import re
from pathlib import Path

import numpy as np
import pytest

import glassnet as gn
from glassnet import losses, optimizers

ROOT = Path(__file__).resolve().parents[1]


def _blocks(name):
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} is not next to the tests")
    text = path.read_text(encoding="utf-8")
    return {text[:m.start()].count("\n") + 1: m.group(1)
            for m in re.finditer(r"```python\n(.*?)```", text, re.S)}, path


def _block_after(name, marker):
    path = ROOT / name
    if not path.exists():
        pytest.skip(f"{name} is not next to the tests")
    text = path.read_text(encoding="utf-8")
    code = re.search(r"```python\n(.*?)```", text[text.index(marker):], re.S).group(1)
    return compile(code, str(path), "exec")


def test_the_readme_list_of_dicts_example_builds_seed_000s_network():
    namespace = {"gn": gn}
    exec(_block_after("docs/guide/models.md", "Seed 000's list-of-dicts architecture works as it is"), namespace)
    model = namespace["model"]
    assert [w.shape for w in model.get_weights()] == [(2, 25), (25,), (25, 1), (1,)]


def test_the_readme_pydataset_example_trains(tmp_path):
    # stand-ins for what the snippet reads: file names, a loader, labels and a compiled model
    paths = np.array([f"img{i}" for i in range(40)])
    labels = np.arange(40) % 10
    model = gn.Sequential([gn.layers.Flatten(input_shape=(4, 4, 1)),
                           gn.layers.Dense(10, activation="softmax")], seed=0)
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam")
    namespace = {"gn": gn, "np": np, "model": model, "load": lambda p: np.full((4, 4, 1), int(p[3:]) / 40, "float32"),
                 "train_paths": paths, "train_labels": labels, "val_paths": paths[:16], "val_labels": labels[:16]}
    exec(_block_after("docs/guide/data.md", "or a generator of such batches"), namespace)
    history = model.history.history
    assert len(history["loss"]) == 5 and len(history["val_loss"]) == 5


def test_the_layer_reference_examples_run():
    blocks, path = _blocks("docs/layers.md")
    assert len(blocks) == 11
    # the seq2seq tutorial's training and inference models (the Distance layer of several inputs
    # runs in tests/test_review_dnsiam.py, which supplies its tower and Inputs; Keras' VAE in
    # tests/test_review_vaeport.py; keras.io's text-classification Transformer in
    # tests/test_review_trfport.py; the two Siamese ports in tests/test_review_siamese.py)
    seq2seq, transformer, _, own, _, _, keras_sampling, _, _, wrapper, serialized = (
        compile(code, str(path), "exec") for code in blocks.values())
    # keras.io's Sampling as written with glassnet.random (its VAE against Keras: tests/test_random.py):
    # on an encoder of the reader's, a fresh draw at every predict
    inputs = gn.Input((4,))
    namespace = {"gn": gn, "encoder_inputs": inputs, "z_mean": gn.layers.Dense(2)(inputs),
                 "z_log_var": gn.layers.Dense(2)(inputs)}
    exec(keras_sampling, namespace)
    x = np.random.default_rng(1).random((3, 4), dtype=np.float32)
    first, second = (namespace["encoder"].predict(x, verbose=0) for _ in range(2))
    assert first[2].shape == (3, 2) and not np.allclose(first[2], second[2])
    np.testing.assert_array_equal(first[0], second[0])
    namespace = {"gn": gn}
    exec(seq2seq, namespace)
    rng = np.random.default_rng(0)
    encoded = rng.random((2, 5, 71), dtype=np.float32)
    decoded = rng.random((2, 4, 93), dtype=np.float32)
    assert namespace["model"].predict([encoded, decoded], verbose=0).shape == (2, 4, 93)
    h, c = namespace["encoder_model"].predict(encoded, verbose=0)
    step, h1, c1 = namespace["decoder_model"].predict([decoded[:, :1], h, c], verbose=0)
    assert step.shape == (2, 1, 93) and h1.shape == c1.shape == (2, 256)
    # the transformer block over padded ids (steps, vocabulary and classes are the reader's)
    namespace = {"gn": gn, "steps": 6, "vocabulary": 20, "classes": 3}
    exec(transformer, namespace)
    ids = rng.integers(1, 20, (4, 6))
    ids[:, 4:] = 0
    assert namespace["model"].predict(ids, verbose=0).shape == (4, 3)
    # a layer of one's own with state (add_weight(trainable=False)): its gradients, and its state moves
    namespace = {}
    exec(own, namespace)
    from glassnet.gradcheck import check_layer
    check_layer(namespace["Centered"](dtype="float64"), rng.random((4, 3)) + 1.0, training=True)
    model = gn.Sequential([gn.layers.Input((3,)), namespace["Centered"](), gn.layers.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(rng.random((8, 3), dtype=np.float32), np.ones((8, 1), "f"), verbose=0)
    assert model.layers[0].state["moving_mean"].min() > 0 and len(model.non_trainable_weights) == 1
    del gn.layers.LAYERS["Centered"]      # (the example's class: not left in the registry)
    # the wrapper of one's own
    namespace = {}
    exec(wrapper, namespace)
    x = rng.random((3, 8), dtype=np.float32)
    model = namespace["model"]
    dense = model.layers[0].layer
    expected = (x + np.tanh(x @ dense.params["kernel"] + dense.params["bias"])) @ model.layers[1].params["kernel"] \
        + model.layers[1].params["bias"]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected, rtol=1e-5, atol=1e-6)
    # a layer as a dict and back
    namespace = {"gn": gn}
    exec(serialized, namespace)
    assert namespace["entry"]["class_name"] == "Dense" and namespace["entry"]["config"]["units"] == 3
    assert namespace["layer"].get_config() == namespace["entry"]["config"]


def test_the_metrics_page_compiles_keras_imbalanced_data_list():
    blocks, path = _blocks("docs/metrics.md")
    (code,) = blocks.values()
    model = gn.Sequential([gn.layers.Dense(1, activation="sigmoid", input_dim=2)], seed=0)
    namespace = {"model": model}
    exec(compile(code, str(path), "exec"), namespace)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 2)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    logs = model.evaluate(x, y, return_dict=True, verbose=0)
    assert {"cross entropy", "Brier score", "tp", "fp", "tn", "fn", "accuracy", "precision", "recall",
            "auc", "prc"} <= set(logs)


def test_the_cli_reference_lists_every_loss_and_optimizer_it_takes():
    path = ROOT / "docs" / "examples.md"
    if not path.exists():
        pytest.skip("docs/examples.md is not next to the tests")
    rows = {m.group(1): set(re.findall(r"`(\w+)`", m.group(2)))
            for m in re.finditer(r"^\| `(--loss|--optimizer)[^|]*\| ([^\n]*)\|$", path.read_text(encoding="utf-8"), re.M)}
    assert set(losses.LOSSES) - rows["--loss"] == set()
    assert set(optimizers.OPTIMIZERS) - rows["--optimizer"] == set()
