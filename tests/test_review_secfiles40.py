"""Review of model files against the day's changes (security, crafted files): a Sequential subclass
named by a file, per-call modes holding "true_if_unset", an optimizer's state under "params",
the new ops nodes (arctan2, glu, threshold, sparsemax, the Fourier transforms). A crafted file
must load or be refused with ModelFileError naming what is wrong: never load and then fail at the
first step, never fail with Python's own TypeError ("unhashable type: 'list'")."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet import ops
from glassnet.errors import ModelFileError

from crafted_files import rewrite_config, within


def _adam_file(tmp_path):
    model = gn.Sequential([L.Input((3,)), L.Dense(2)], seed=0)
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    x = np.random.default_rng(0).normal(size=(4, 3)).astype(np.float32)
    model.fit(x, np.zeros((4, 2), np.float32), epochs=1, batch_size=2, verbose=0)
    path = str(tmp_path / "adam.npz")
    model.save(path)
    return path, x


@pytest.mark.parametrize("iterations", [2 ** 63, 10 ** 400], ids=["2**63", "10**400"])
def test_an_iteration_count_past_int64_is_refused_at_load_not_at_the_first_step(tmp_path, iterations):
    # JSON's integers have no bound: 10 ** 400 loaded, and the first fit step failed in Adam's bias
    # correction, beta ** iterations: "OverflowError: int too large to convert to float".
    # Keras keeps the count in an int64 variable
    path, x = _adam_file(tmp_path)
    rewrite_config(path, lambda c: c["optimizer_state"].update(iterations=iterations))
    with within(5), pytest.raises(ModelFileError, match=r"optimizer_state: iterations must be a non-negative "
                                                        r"integer below 2\*\*63"):
        gn.load_model(path)
    rewrite_config(path, lambda c: c["optimizer_state"].update(iterations=2 ** 63 - 1))
    model = gn.load_model(path)         # the largest int64 still loads and trains
    model.fit(x, np.zeros((4, 2), np.float32), epochs=1, batch_size=2, verbose=0)
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize("change, says", [
    # each was "not a readable glassnet model file (TypeError: unhashable type: 'list')" (or 'dict')
    (lambda s: s.update(keys=[["params"]]), r"optimizer_state: keys \[\['params'\]\] are not among"),
    (lambda s: s.update(keys=[{"params": 1}]), r"optimizer_state: keys \[\{'params': 1\}\] are not among"),
    (lambda s: s["slots"][0].__setitem__(0, ["params"]), r"optimizer_state: slots\[0\] = \[\['params'\], 'm'\] is "
                                                         r"not a new \[key, slot name\]"),
    # "TypeError: object of type 'int' has no len()"
    (lambda s: s.update(slots=5), r"optimizer_state: slots must be a list of \[key, slot name\], got 5"),
])
def test_optimizer_state_keys_and_slots_of_other_types_are_refused_by_name(tmp_path, change, says):
    path, _ = _adam_file(tmp_path)
    rewrite_config(path, lambda c: change(c["optimizer_state"]))
    with within(5), pytest.raises(ModelFileError, match=says) as caught:
        gn.load_model(path)
    assert "not a readable" not in str(caught.value)


def _arctan2_file(tmp_path):
    inputs = gn.Input((4,))
    angle = ops.arctan2(inputs, L.Dense(4)(inputs))
    model = gn.Model(inputs, L.Dense(1)(angle), seed=0)
    path = str(tmp_path / "arctan2.npz")
    model.save(path)
    return model, path


@pytest.mark.parametrize("inbound", [[-1], [-1, 0, -1]])
def test_an_arctan2_node_of_one_or_three_tensors_is_refused_by_name(tmp_path, keras, inbound):
    # arctan2 of two tensors is a binary node; a file giving it one said "broadcast_equal_rank() missing
    # 1 required positional argument: 'what'", three "takes 3 positional arguments but 4 were given"
    model, path = _arctan2_file(tmp_path)
    x = np.random.default_rng(1).normal(size=(3, 4)).astype(np.float32)
    loaded = gn.load_model(path)          # the file as saved loads and predicts as the model
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # (the node computes Keras' arctan2 of its two tensors)
    np.testing.assert_allclose(np.asarray(ops.arctan2(x, x[:, ::-1])), np.asarray(keras.ops.arctan2(x, x[:, ::-1])),
                               rtol=1e-6)

    def change(config):
        layers = [spec["config"]["name"] for spec in config["model"]["layers"]]
        call = config["model"]["calls"].index(layers.index("arctan2"))
        config["model"]["inbound"][call] = inbound
    rewrite_config(path, change)
    with within(5), pytest.raises(ModelFileError, match=rf"arctan2 of tensors takes two tensors \(or a tensor and a "
                                                        rf"constant\), got {len(inbound)}"):
        gn.load_model(path)


@pytest.mark.parametrize("shape, says", [
    (2.5, r"input_shape must be a tuple of positive integers .* got 2\.5"),
    (2, r"input_shape must be a tuple such as \(2,\), got the integer 2"),
    ({"a": 1}, r"input_shape must hold positive integer sizes .* got \{'a': 1\}"),
])
def test_a_layer_input_shape_of_another_type_in_a_file_gets_the_constructor_error(tmp_path, shape, says):
    # Layer.from_config ran tuple() on it first: "'float' object is not iterable", and a dict's keys
    # became a shape ('a',)
    path, _ = _adam_file(tmp_path)
    rewrite_config(path, lambda c: c["model"]["layers"][0]["config"].update(input_shape=shape))
    with within(5), pytest.raises(ModelFileError, match=says):
        gn.load_model(path)
    with pytest.raises(ValueError, match=says):
        L.Dense.from_config({"units": 2, "input_shape": shape})
    assert L.Dense.from_config({"units": 2, "input_shape": [3]}).input_shape == (3,)


@pytest.mark.parametrize("factor", [1e308, [-5e305, 5e305], 1.5])
def test_a_random_rotation_factor_past_a_full_turn_is_refused_as_keras_refuses_it(tmp_path, keras, factor):
    # RandomRotation took any finite factor: a file's 1e308 loaded, then model(x) (the layer's training
    # default) and fit failed drawing the angle, NumPy's "OverflowError: high - low range exceeds valid
    # bounds". Keras 3.15 takes factors in [-1, 1] only (of a pair its check reads factor[0] > 1 and
    # factor[1] < -1 alone, so that it takes (-5e305, 5e305) and draws infinite angles)
    if not isinstance(factor, list):
        with pytest.raises(ValueError, match=r"in the range \[-1, 1\]"):
            keras.layers.RandomRotation(factor)
    with pytest.raises(ValueError, match=r"RandomRotation: factor must be a number or a pair \(lower, upper\) of "
                                         r"numbers in \[-1, 1\]"):
        L.RandomRotation(factor)
    inputs = gn.Input((5, 5, 1))
    model = gn.Model(inputs, L.Dense(1)(L.Flatten()(L.RandomRotation(0.1)(inputs))), seed=0)
    path = str(tmp_path / "rotation.npz")
    model.save(path)
    rewrite_config(path, lambda c: c["model"]["layers"][0]["config"].update(factor=factor))
    with within(5), pytest.raises(ModelFileError, match="RandomRotation: factor must be"):
        gn.load_model(path)
    keras_layer, ours = keras.layers.RandomRotation(1.0), L.RandomRotation(1.0)     # a full turn: both take it
    assert ours.get_config()["factor"] == [-1.0, 1.0] and keras_layer.get_config()["factor"] in ((-1.0, 1.0), [-1.0, 1.0])


@pytest.mark.parametrize("name", [["PCG64"], {"PCG64": 1}])
def test_a_random_state_naming_its_generator_by_a_list_is_refused_by_name(tmp_path, name):
    # "not a readable glassnet model file (TypeError: unhashable type: 'list')"
    path, _ = _adam_file(tmp_path)
    rewrite_config(path, lambda c: c["rng_states"]["shuffle"].update(bit_generator=name))
    with within(5), pytest.raises(ModelFileError, match="rng_states: unknown bit generator"):
        gn.load_model(path)
