"""Review of model files' newer entries (security): a RandomDraw node's config (glassnet.random's
draws inside a call, with the seed state) and a "subclass" entry's constructor's arguments. A
crafted file must be refused by load_model with ModelFileError, never load and then hang, allocate
gigabytes or fail with NumPy's own error at predict."""
import json
import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import random as gr
from glassnet.errors import ModelFileError

from crafted_files import rewrite_config, within


class Noisy(L.Layer):
    """Keras' VAE sampling idiom, with dropout and a truncated normal: three RandomDraw nodes."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.generator = gr.SeedGenerator(1337)

    def call(self, x):
        batch = gn.ops.shape(x)[0]
        h = gr.dropout(x, 0.3, noise_shape=(None, 1), seed=2)
        return (h[:, :2] + gr.normal((batch, 2), seed=self.generator)
                + gr.truncated_normal((batch, 2), mean=0.5, stddev=2.0, seed=7))


def _noisy_file(tmp_path):
    inputs = gn.Input((4,))
    model = gn.Model(inputs, L.Dense(1)(Noisy()(L.Dense(4)(inputs))), seed=0)
    path = str(tmp_path / "noisy.npz")
    model.save(path)
    return model, path


def _draws(path):
    import io
    import zipfile
    with zipfile.ZipFile(path) as archive:
        config = json.loads(np.lib.format.read_array(io.BytesIO(archive.read("config.npy"))).tobytes())
    return {spec["config"]["distribution"]: i for i, spec in enumerate(config["model"]["layers"])
            if spec["class_name"] == "RandomDraw"}


def test_a_saved_random_draw_still_loads_and_draws_on_where_it_stood(tmp_path):
    model, path = _noisy_file(tmp_path)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype(np.float32)
    loaded = gn.load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


@pytest.mark.parametrize("distribution, key, value, says", [
    # the rejection loop of truncated_normal never ends with a NaN bound: predict hung forever
    ("truncated_normal", "arguments", {"mean": float("nan"), "stddev": 1.0}, "mean \\+- 2 stddev"),
    ("truncated_normal", "arguments", {"mean": float("inf"), "stddev": float("inf")}, "mean \\+- 2 stddev"),
    # a noise_shape the input does not have: predict drew (batch, 10**6) uniforms (10**9: an OOM kill)
    ("dropout", "arguments", {"rate": 0.3, "noise_shape": [None, 10 ** 6]}, "noise_shape"),
    ("dropout", "arguments", {"rate": 2.0, "noise_shape": None}, "rate must be in \\[0, 1\\]"),
    ("dropout", "arguments", {"rate": "a", "noise_shape": None}, "rate must be a number"),
    ("normal", "arguments", {"mean": 0.0, "stddev": -1.0}, "stddev must be >= 0"),       # NumPy's "scale < 0"
    ("normal", "arguments", {"mean": 0.0, "stddev": [1.0, 5.0]}, "stddev must be a number"),    # broadcast, silently
    # the generator's state: NumPy truncated 1.5, took [[1, 2]] and True silently
    ("normal", "draw_seed", {"seed": 1337, "state": [1.5, 0]}, "draw_seed as a dict"),
    ("normal", "draw_seed", {"seed": 1337, "state": [[1337, 0]]}, "draw_seed as a dict"),
    ("normal", "draw_seed", {"seed": "x", "state": [1337, 0]}, "draw_seed as a dict"),
])
def test_crafted_random_draw_configs_are_refused_at_load(tmp_path, distribution, key, value, says):
    _, path = _noisy_file(tmp_path)
    index = _draws(path)[distribution]
    rewrite_config(path, lambda c: c["model"]["layers"][index]["config"].update({key: value}))
    with within(20), pytest.raises(ModelFileError, match=says):
        gn.load_model(path)


def test_truncated_normal_with_a_nan_mean_is_refused_not_a_hang():
    with within(5), pytest.raises(ValueError, match="mean \\+- 2 stddev"):
        gr.truncated_normal((3,), mean=float("nan"), seed=1)
    assert np.isnan(gr.normal((3,), mean=float("nan"), seed=1)).all()       # (normal's: NaN values, as Keras')


@gn.saving.register_serializable(package="ReviewSecfiles")
class Wide(gn.Model):
    """A registered call subclass without get_config: its file records the arguments it was made with."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.hidden = L.Dense(units, activation="tanh")
        self.out = L.Dense(1)

    def call(self, inputs):
        return self.out(self.hidden(inputs))


def _peak_while(load):
    tracemalloc.start()
    try:
        with pytest.raises(ModelFileError) as caught:
            load()
        return tracemalloc.get_traced_memory()[1], str(caught.value)
    finally:
        tracemalloc.stop()


def test_constructor_arguments_from_a_file_cannot_allocate_past_its_weights(tmp_path):
    model = Wide(seed=0)
    model.build((None, 3))
    path = str(tmp_path / "wide.npz")
    model.save(path)
    assert type(gn.load_model(path)) is Wide
    # {"units": 10**9}: the kernel (3, 10**9) was allocated (22 GiB) before the weights were compared
    # with the file's; 10**6 here (24 MiB), refused before it is made
    rewrite_config(path, lambda c: c["model"]["subclass"]["config"].update(units=10 ** 6))
    peak, message = _peak_while(lambda: gn.load_model(path))
    assert "more parameters than the file holds" in message and peak < 8 * 2 ** 20, (peak, message)
    config = json.loads(model.to_json())
    config["config"]["subclass"]["config"]["units"] = 10 ** 6
    peak, message = _peak_while(lambda: gn.model_from_json(json.dumps(config)))
    assert "more parameters than the file holds" in message and peak < 8 * 2 ** 20, (peak, message)
