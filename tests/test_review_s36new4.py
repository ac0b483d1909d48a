"""Review s36new4: a MultiHeadAttention given its tensors by keyword keeps Keras' order of the
layers that made them in a graph drawn again from a model read back (load_model, from_config,
clone_model): Keras' files keep each call's arguments, so ``keras.Model(loaded.inputs,
loaded.get_layer("mha").output)`` lists them as the first model did; glassnet's kept the
order only on the model read back, and a sub-model drawn from its tensors listed them as
positional calls would (pq, pv, pk for ``mha(query=q, value=v, key=k)``, where Keras lists pk, pq,
pv): ``set_weights`` from Keras then swapped the three same-shaped projections silently."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def _model(how):
    x = L.Input((5, 4))
    pq, pk, pv = (L.Dense(4, name=name) for name in ("pq", "pk", "pv"))
    q, k, v = pq(x), pk(x), pv(x)
    mha = L.MultiHeadAttention(2, 3, name="mha")
    if how == "keywords":
        out = mha(query=q, value=v, key=k)
    elif how == "scores":
        out = mha(query=q, value=v, key=k, return_attention_scores=True)[0]
    else:       # an attention_mask by keyword, made by a layer of its own
        out = mha(q, value=v, attention_mask=L.Dense(5, name="pa")(x), key=k)
    return gn.Model(x, out, seed=0)


# Keras 3.15's model.layers for each (its call reads the tensors given by position, then those
# given by keyword sorted by name)
KERAS_ORDER = {"keywords": ["pk", "pq", "pv", "mha"], "scores": ["pk", "pq", "pv", "mha"],
               "mask": ["pq", "pa", "pk", "pv", "mha"]}


@pytest.mark.parametrize("how", sorted(KERAS_ORDER))
@pytest.mark.parametrize("again", ["load_model", "from_config", "clone_model"])
def test_a_graph_drawn_again_keeps_keras_order(tmp_path, how, again):
    model = _model(how)
    assert [layer.name for layer in model.layers] == KERAS_ORDER[how]
    if again == "load_model":
        model.save(tmp_path / "m.npz")
        read = gn.load_model(tmp_path / "m.npz")
    elif again == "from_config":
        read = gn.Model.from_config(model.get_config())
    else:
        read = gn.models.clone_model(model)
    assert [layer.name for layer in read.layers] == KERAS_ORDER[how]
    # Keras' sub-model idiom, and the whole graph drawn again, on the tensors of the model read back
    for redrawn in (gn.Model(read.inputs, read.get_layer("mha").output), gn.Model(read.inputs, read.outputs)):
        assert [layer.name for layer in redrawn.layers] == KERAS_ORDER[how]
        redrawn.set_weights(model.get_weights())         # weights in Keras' order: each to its own layer
        x = np.random.default_rng(0).standard_normal((3, 5, 4)).astype(np.float32)
        np.testing.assert_allclose(redrawn.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6, atol=1e-6)


def test_matches_keras_after_a_file(tmp_path):
    keras = pytest.importorskip("keras")
    x = keras.layers.Input((5, 4))
    pq, pk, pv = (keras.layers.Dense(4, name=name) for name in ("pq", "pk", "pv"))
    theirs = keras.Model(x, keras.layers.MultiHeadAttention(2, 3, name="mha")(query=pq(x), value=pv(x), key=pk(x)))
    ours = _model("keywords")
    ours.save(tmp_path / "m.npz")
    read = gn.load_model(tmp_path / "m.npz")
    sub = gn.Model(read.inputs, read.outputs)
    sub.set_weights(theirs.get_weights())
    data = np.random.default_rng(1).standard_normal((3, 5, 4)).astype(np.float32)
    np.testing.assert_allclose(sub.predict(data, verbose=0), theirs.predict(data, verbose=0), rtol=1e-5, atol=1e-6)


def test_a_config_with_a_wrong_order_is_refused():
    config = _model("keywords").get_config()
    k = next(i for i, option in enumerate(config["options"]) if option and "keras_order" in option)
    assert config["options"][k]["keras_order"] == [2, 0, 1]      # key, query, value of [query, value, key]
    for wrong in ([0, 1], [0, 1, 1], [0, 1, 3], "201", [True, 0, 1]):
        options = [dict(option, keras_order=wrong) if i == k else option for i, option in enumerate(config["options"])]
        with pytest.raises(ValueError, match="'keras_order'"):
            gn.Model.from_config({**config, "options": options})
