"""Outputs without a loss (Keras' ``loss=[loss_fn, None]``, keras.io's miniature GPT's
``outputs=[logits, x]``): compared with Keras 3.15 from the same initial weights (logs, their names,
per-epoch values, final weights), by finite differences, and through files, configs and copies."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_model

L = gn.layers


def _three_heads(lib):
    """A class (softmax), a flag (sigmoid, read by the third output's layer too) and two numbers."""
    inputs = lib.Input((6,))
    h = lib.layers.Dense(8, activation="tanh", name="hidden")(inputs)
    cls = lib.layers.Dense(3, activation="softmax", name="cls")(h)
    aux = lib.layers.Dense(1, activation="sigmoid", name="aux")(h)
    reg = lib.layers.Dense(2, name="reg")(lib.layers.Concatenate(name="join")([h, aux]))
    return inputs, [cls, aux, reg]


def _data(rng, n=48, dtype=np.float32):
    return (rng.standard_normal((n, 6)).astype(dtype), rng.integers(0, 3, n),
            rng.integers(0, 2, (n, 1)).astype(dtype), rng.standard_normal((n, 2)).astype(dtype))


def _twins(keras, build=_three_heads):
    ours, theirs = gn.Model(*build(gn), seed=0), keras.Model(*build(keras))
    for layer in ours.layers:           # (by name: the two order parallel branches differently)
        if layer.params:
            theirs.get_layer(layer.name).set_weights(layer.get_weights())
    return ours, theirs


def _same_logs(mine, their, rtol=2e-5, atol=1e-6):
    assert sorted(mine) == sorted(their)
    for key in their:
        np.testing.assert_allclose(mine[key], their[key], rtol=rtol, atol=atol, err_msg=key)


def _same_weights(ours, theirs):
    for layer in ours.layers:
        for a, b in zip(layer.get_weights(), theirs.get_layer(layer.name).get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_an_unscored_output_among_three_trains_logs_and_weighs_as_keras(keras, rng):
    ours, theirs = _twins(keras)
    x, yc, ya, yr = _data(rng)
    # aux has no loss: its weight (5) weighs nothing, it logs nothing, and its layer still learns
    # through reg, which reads it
    settings = dict(loss=["sparse_categorical_crossentropy", None, "mse"], loss_weights=[1.0, 5.0, 0.5],
                    metrics={"cls": ["accuracy"], "reg": ["mae"]})
    ours.compile(optimizer=gn.optimizers.SGD(0.1), **settings)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), **settings)
    aux_before = ours.get_layer("aux").get_weights()[0].copy()
    mine = ours.fit(x, [yc, None, yr], epochs=3, batch_size=16, shuffle=False, verbose=0,
                    validation_data=(x[:32], [yc[:32], None, yr[:32]])).history
    their = theirs.fit(x, [yc, None, yr], epochs=3, batch_size=16, shuffle=False, verbose=0,
                       validation_data=(x[:32], [yc[:32], None, yr[:32]])).history
    assert sorted(their) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "reg_mae", "val_cls_accuracy",
                             "val_cls_loss", "val_loss", "val_reg_loss", "val_reg_mae"]
    _same_logs(mine, their)
    _same_weights(ours, theirs)
    assert not np.allclose(ours.get_layer("aux").get_weights()[0], aux_before)
    # Keras' forms of y for it: None, the unscored output's targets (ignored), the scored ones
    # alone, a dict of the scored names: the same values
    # (one batch: Keras 3.15 averages the per-output losses over batches, glassnet over samples)
    expected = theirs.evaluate(x, [yc, None, yr], batch_size=48, verbose=0, return_dict=True)
    for y in ([yc, None, yr], [yc, ya, yr], (yc, yr), {"cls": yc, "reg": yr}, {"cls": yc, "aux": None, "reg": yr}):
        _same_logs(ours.evaluate(x, y, batch_size=48, verbose=0, return_dict=True), expected)
    # weights per output, None for the unscored one; one weight per sample for all
    w, w2 = rng.uniform(0.2, 2, 48).astype(np.float32), rng.uniform(0, 3, 48).astype(np.float32)
    for weights in ([w, None, w2], w):
        mine = ours.fit(x, [yc, None, yr], sample_weight=weights, epochs=2, batch_size=16, shuffle=False,
                        verbose=0).history
        their = theirs.fit(x, [yc, None, yr], sample_weight=weights, epochs=2, batch_size=16, shuffle=False,
                           verbose=0).history
        _same_logs(mine, their)
    # the batch calls: [loss, cls_loss, reg_loss, cls_accuracy, reg_mae] as Keras returns them
    np.testing.assert_allclose(ours.train_on_batch(x, [yc, None, yr]), theirs.train_on_batch(x, [yc, None, yr]),
                               rtol=2e-5)
    # (Keras 3.15's metrics fail on a dict without the unscored output: given it None there)
    np.testing.assert_allclose(ours.test_on_batch(x, {"cls": yc, "reg": yr}),
                               theirs.test_on_batch(x, [yc, None, yr]), rtol=2e-5)
    _same_weights(ours, theirs)
    for mine, their in zip(ours.predict(x, verbose=0), theirs.predict(x, verbose=0)):     # all three outputs
        np.testing.assert_allclose(mine, their, rtol=1e-4, atol=1e-6)


def test_one_scored_output_logs_loss_alone_and_takes_its_targets_and_class_weights(keras, rng):
    ours, theirs = _twins(keras)
    x, yc, ya, yr = _data(rng)
    settings = dict(loss=["sparse_categorical_crossentropy", None, None], metrics=[["accuracy"], None, None],
                    weighted_metrics={"cls": ["accuracy"]})
    ours.compile(optimizer=gn.optimizers.SGD(0.1), **settings)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), **settings)
    mine = ours.fit(x, yc, epochs=3, batch_size=16, shuffle=False, verbose=0, validation_split=0.25).history
    their = theirs.fit(x, yc, epochs=3, batch_size=16, shuffle=False, verbose=0, validation_split=0.25).history
    # one loss: "loss" alone, no "cls_loss" (Keras 3's logs for one scored output)
    assert sorted(their) == ["cls_accuracy", "cls_weighted_accuracy", "loss", "val_cls_accuracy",
                             "val_cls_weighted_accuracy", "val_loss"]
    _same_logs(mine, their)
    # class_weight reads the scored output's classes, as Keras 3.15 takes it with y one array
    classes = {0: 1.0, 1: 2.5, 2: 0.5}
    mine = ours.fit(x, yc, class_weight=classes, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    their = theirs.fit(x, yc, class_weight=classes, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    _same_logs(mine, their)
    _same_weights(ours, theirs)
    for y in (yc, [yc], [yc, None, None], {"cls": yc}):
        np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, yc, verbose=0), rtol=2e-5)
    np.testing.assert_allclose(ours.train_on_batch(x, yc), theirs.train_on_batch(x, yc), rtol=2e-5)


def test_the_miniature_gpt_trains_its_logits_and_predicts_both_as_keras(keras, rng):
    """keras.io's miniature GPT, small: token and position ids embedded and added, a causal
    attention block, ``outputs=[logits, x]`` with ``loss=[SparseCategoricalCrossentropy(from_logits=True),
    None]``: the same per-epoch losses and final weights as Keras 3.15 from the same start."""
    vocab, steps, dim = 11, 6, 8

    def gpt(lib):
        ids = lib.Input((steps,), dtype="int32")
        tokens = lib.layers.Embedding(vocab, dim, name="tokens")(ids)
        x = lib.layers.MultiHeadAttention(2, dim // 2, name="mha")(tokens, tokens, use_causal_mask=True)
        x = lib.layers.LayerNormalization(epsilon=1e-6, name="ln1")(lib.layers.Add(name="add")([tokens, x]))
        x = lib.layers.LayerNormalization(epsilon=1e-6, name="ln2")(
            lib.layers.Add(name="add2")([x, lib.layers.Dense(dim, name="ff2")(
                lib.layers.Dense(dim, activation="relu", name="ff1")(x))]))
        return ids, [lib.layers.Dense(vocab, name="logits")(x), x]

    ours, theirs = _twins(keras, gpt)
    loss = gn.losses.SparseCategoricalCrossentropy(from_logits=True)
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss=[loss, None], metrics=[["sparse_categorical_accuracy"], None])
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=[keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                                                               None], metrics=[["sparse_categorical_accuracy"], None])
    tokens = rng.integers(1, vocab, size=(32, steps + 1))
    x, y = tokens[:, :-1], tokens[:, 1:]
    w = rng.uniform(0.2, 2, 32).astype(np.float32)
    mine = ours.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0, validation_data=(x[:16], y[:16])).history
    their = theirs.fit(x, y, epochs=4, batch_size=8, shuffle=False, verbose=0, validation_data=(x[:16], y[:16])).history
    assert sorted(mine) == sorted(their) == ["logits_sparse_categorical_accuracy", "loss",
                                             "val_logits_sparse_categorical_accuracy", "val_loss"]
    _same_logs(mine, their, rtol=1e-5)
    mine = ours.fit(x, y, sample_weight=w, epochs=2, batch_size=8, shuffle=False, verbose=0).history
    # (glassnet weighs each position by its sample's weight; Keras 3.15 takes that as (n, steps) only)
    their = theirs.fit(x, y, sample_weight=np.repeat(w[:, None], steps, 1), epochs=2, batch_size=8, shuffle=False,
                       verbose=0).history
    _same_logs(mine, their, rtol=1e-5)
    _same_weights(ours, theirs)
    logits, hidden = ours.predict(x[:3], verbose=0)
    assert logits.shape == (3, steps, vocab) and hidden.shape == (3, steps, dim)
    for a, b in zip((logits, hidden), theirs.predict(x[:3], verbose=0)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # with the example's Adam: x's None loss changes nothing, the model trains as one of its logits alone
    both = gn.Model(*gpt(gn), seed=0)
    ids, (logits, _) = gpt(gn)          # (layers of their own: the two train apart)
    alone = gn.Model(ids, logits, seed=0)
    start = both.get_weights()
    for model, losses in ((both, [loss, None]), (alone, loss)):
        model.set_weights(start)
        model.compile(optimizer=gn.optimizers.Adam(1e-2), loss=losses)
        model.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(both.get_weights(), alone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_dict_output_model_leaves_outputs_out_of_its_loss_dict_as_keras(keras, rng):
    def build(lib):
        inputs = lib.Input((6,))
        h = lib.layers.Dense(8, activation="tanh", name="hidden")(inputs)
        return inputs, {"score": lib.layers.Dense(2, name="s")(h), "extra": lib.layers.Dense(4, name="e")(h),
                        "cls": lib.layers.Dense(3, activation="softmax", name="c")(h)}

    ours, theirs = _twins(keras, build)
    x, yc, _, yr = _data(rng)
    ours.compile(optimizer=gn.optimizers.SGD(0.1), loss={"score": "mse", "cls": "sparse_categorical_crossentropy"})
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss={"score": "mse", "cls": "sparse_categorical_crossentropy"})
    mine = ours.fit(x, {"score": yr, "cls": yc}, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    their = theirs.fit(x, {"score": yr, "cls": yc}, epochs=2, batch_size=16, shuffle=False, verbose=0).history
    assert list(mine) == ["loss", "score_loss", "cls_loss"]
    _same_logs(mine, their)
    _same_weights(ours, theirs)
    assert sorted(ours.predict(x, verbose=0)) == ["cls", "extra", "score"]


def test_an_output_reached_by_no_loss_gets_zero_gradients_and_the_gradients_check(rng):
    inputs = gn.Input((6,))
    h = L.Dense(5, activation="tanh", name="h")(inputs)
    model = gn.Model(inputs, [L.Dense(3, activation="softmax", name="a")(h), L.Dense(2, name="only")(h)], seed=0)
    model.compile(loss=["sparse_categorical_crossentropy", None], optimizer=gn.optimizers.Adam(0.05))
    x, yc, _, _ = _data(rng)
    only, hidden = [model.get_layer(name).get_weights() for name in ("only", "h")]
    model.fit(x, yc, epochs=2, batch_size=8, verbose=0)
    for before, after in zip(only, model.get_layer("only").get_weights()):
        np.testing.assert_array_equal(before, after)
    assert not np.allclose(hidden[0], model.get_layer("h").get_weights()[0])
    # float64 finite differences: the loss is the scored outputs' alone (aux read by reg: its layer
    # gets reg's gradient; weights per output too)
    model = gn.Model(*_three_heads(gn), seed=0, dtype="float64")
    model.compile(loss=["categorical_crossentropy", None, "huber"], loss_weights=[0.7, 2.0, 1.3],
                  optimizer="sgd")
    x, yc, ya, yr = _data(rng, 10, np.float64)
    assert check_model(model, x, [np.eye(3)[yc], None, yr])["max_error"] < 1e-7
    assert check_model(model, x, {"cls": np.eye(3)[yc], "reg": yr},
                       sample_weight=[rng.uniform(0.1, 2, 10), None, rng.uniform(0.1, 2, 10)])["max_error"] < 1e-7


def test_files_configs_and_copies_keep_the_none(rng, tmp_path):
    model = gn.Model(*_three_heads(gn), seed=0)
    model.compile(loss={"cls": "sparse_categorical_crossentropy", "reg": "mse"}, optimizer="adam",
                  metrics={"reg": "mae"})
    x, yc, _, yr = _data(rng)
    model.fit(x, [yc, None, yr], epochs=1, verbose=0)
    config = model.get_compile_config()
    assert config["loss"] == ["sparse_categorical_crossentropy", None, "mse"]
    expected = model.evaluate(x, [yc, None, yr], verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    assert loaded.get_compile_config()["loss"] == config["loss"]
    np.testing.assert_allclose(loaded.evaluate(x, [yc, None, yr], verbose=0), expected, rtol=1e-6)
    loaded.fit(x, [yc, yr], epochs=1, verbose=0)        # the optimizer state came back: it trains on
    clone = gn.models.clone_model(model)
    clone.compile_from_config(config)
    assert clone.get_compile_config()["loss"] == config["loss"]
    assert clone.metrics_names == model.metrics_names == ["loss", "cls_loss", "reg_loss", "reg_mae"]
    again = gn.Model.from_config(model.get_config())
    again.compile_from_config(config)
    assert [head.scored for head in again._heads] == [True, False, True]


def test_what_an_unscored_output_cannot_take_is_refused_by_name(rng):
    model = gn.Model(*_three_heads(gn), seed=0)
    x, yc, ya, yr = _data(rng)
    with pytest.raises(ValueError, match=r"loss: no output has a loss"):
        model.compile(loss=[None, None, None])
    with pytest.raises(ValueError, match=r"metrics: output 'aux' has no loss \(None\), so it takes no targets"):
        model.compile(loss=["sparse_categorical_crossentropy", None, "mse"], metrics={"aux": "mae"})
    with pytest.raises(ValueError, match=r"loss_weights: output 'reg' has a loss, so it needs a weight"):
        model.compile(loss=["sparse_categorical_crossentropy", None, "mse"], loss_weights={"cls": 1.0})
    assert getattr(model, "optimizer", None) is None                # nothing taken up
    model.compile(loss=["sparse_categorical_crossentropy", None, "mse"], loss_weights={"cls": 1.0, "reg": 2.0},
                  optimizer="sgd")
    with pytest.raises(ValueError, match=r"y\[2\]: output 'reg' has a loss, so it needs targets; got None"):
        model.fit(x, [yc, ya, None], verbose=0)
    with pytest.raises(ValueError, match=r"y: a dict needs the names of the outputs that have a loss.*'reg'"):
        model.evaluate(x, {"cls": yc, "aux": ya}, verbose=0)
    with pytest.raises(TypeError, match=r"y: the model has 3 outputs"):
        model.fit(x, yc, verbose=0)                 # two scored outputs: one array cannot be both
    with pytest.raises(ValueError, match=r"class_weight: .* several with a loss"):
        model.fit(x, [yc, None, yr], class_weight={0: 2.0}, verbose=0)
