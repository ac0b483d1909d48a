"""Differential fuzzing of ``gn.GradientTape`` training: a seeded generator of small functional
models (Dense, Conv1D, LSTM, GRU, Embedding(mask_zero=True), Dropout(0), BatchNormalization,
LayerNormalization, Add, Concatenate; one or two inputs, one to three outputs as a list or dict,
loss_weights and None losses; activity and kernel regularizers; a block whose call adds a loss and
computes a branch reaching no output; frozen layers), drawn alike in glassnet and Keras 3.15
(Keras' weights set from glassnet's). For each seed:

(a) ``compute_loss`` under ``gn.GradientTape`` against Keras' under ``tf.GradientTape``: the value
    and every gradient, the None pattern included;
(b) three steps of a loop of one's own with ``apply_gradients`` (SGD with momentum and
    weight_decay; AdamW with a kernel constraint) against Keras' same loop: the weights;
(c) glassnet's loop against glassnet's ``train_on_batch`` of the same model;
(d) ``super().train_step`` against plain ``fit`` in glassnet.
"""
import warnings

import numpy as np
import pytest

import glassnet as gn

N, T, V = 6, 5, 7


# -- the generator -----------------------------------------------------------------------------------

def draw(seed):
    """A model's description: plain data, drawn once, built alike by both libraries."""
    r = np.random.default_rng(seed)
    kinds = list(r.choice(["vec", "seq", "tok"], size=int(r.integers(1, 3))))
    trunks = []
    for k in kinds:
        if k == "vec":
            trunks.append({"kind": k, "norm": str(r.choice(["none", "bn", "ln"])),
                           "act": str(r.choice(["tanh", "relu", "linear"]))})
        elif k == "seq":
            trunks.append({"kind": k, "layer": str(r.choice(["conv", "lstm", "gru"]))})
        else:
            trunks.append({"kind": k, "rnn": str(r.choice(["lstm", "gru"])),
                           "tagger": bool(r.random() < 0.4)})
    heads = []
    n_heads = int(r.integers(1, 4))
    if any(t["kind"] == "tok" and t["tagger"] for t in trunks):
        # a masked output: fit (and compute_loss) score its real steps alone in a model of one output
        # only (compile refuses a mask reaching an output of several, by name): the tagger alone
        trunks, n_heads = [{"kind": "tok", "rnn": trunks[0].get("rnn", "lstm"), "tagger": True}], 0
        dead_only = True        # (see build: a block's live branch and the mask)
    else:
        dead_only = False
    for h in range(n_heads):
        heads.append({"loss": str(r.choice(["sce", "bce", "mse"])),
                      "weight": float(np.round(r.uniform(0.3, 2.0), 2)),
                      "none": bool(h > 0 and r.random() < 0.25)})
    return {"trunks": trunks, "heads": heads,
            "merge": str(r.choice(["add", "concat"])),
            "block": bool(r.random() < 0.6), "block_dead": bool(r.random() < 0.7) or dead_only,
            "activity": bool(r.random() < 0.5), "kernel_reg": bool(r.random() < 0.5),
            "frozen": bool(r.random() < 0.3), "dropout": bool(r.random() < 0.5),
            "as_dict": bool(r.random() < 0.5), "sw": str(r.choice(["none", "shared", "per"])),
            "tagger_pos_sw": bool(r.random() < 0.5)}


def _block_class(lib):
    base = gn.Layer if lib is gn else lib.layers.Layer

    class Block(base):
        """A keras.io-style block: an add_loss term on an inner Dense, and maybe a dead branch."""

        def __init__(self, dead, **kwargs):
            super().__init__(**kwargs)
            self.dead = dead
            self.inner = lib.layers.Dense(4, activation="tanh", name="inner")
            self.probe = lib.layers.Dense(4, name="probe")

        def call(self, x):
            h = self.inner(x)
            self.add_loss(0.1 * lib.ops.mean(lib.ops.square(h)))
            if self.dead:
                _ = lib.ops.relu(self.probe(h))         # computed, read by nothing
                return h
            return h + 0.5 * self.probe(h)
    return Block


def build(lib, spec, cls=None):
    L = lib.layers
    reg = (lambda: lib.regularizers.L2(0.01)) if spec["kernel_reg"] else (lambda: None)
    inputs, feats, tagger = [], [], None
    for i, t in enumerate(spec["trunks"]):
        if t["kind"] == "vec":
            x = lib.Input((3,), name=f"in{i}")
            h = L.Dense(4, activation=t["act"], name=f"d{i}", kernel_regularizer=reg(),
                        activity_regularizer=lib.regularizers.L2(0.02) if spec["activity"] else None)(x)
            if t["norm"] == "bn":
                h = L.BatchNormalization(name=f"bn{i}")(h)
            elif t["norm"] == "ln":
                h = L.LayerNormalization(name=f"ln{i}")(h)
        elif t["kind"] == "seq":
            x = lib.Input((T, 2), name=f"in{i}")
            if t["layer"] == "conv":
                h = L.Conv1D(4, 3, padding="same", activation="relu", name=f"c{i}", kernel_regularizer=reg())(x)
                h = L.GlobalAveragePooling1D(name=f"p{i}")(h)
            else:
                h = (L.LSTM if t["layer"] == "lstm" else L.GRU)(4, name=f"r{i}")(x)
        else:
            x = lib.Input((T,), dtype="int32", name=f"in{i}")
            e = L.Embedding(V, 3, mask_zero=True, name=f"e{i}")(x)
            rnn = L.LSTM if t["rnn"] == "lstm" else L.GRU
            if t["tagger"]:
                s = rnn(4, return_sequences=True, name=f"rs{i}", kernel_regularizer=reg())(e)
                if spec["block"]:
                    s = _block_class(lib)(spec["block_dead"], name="block")(s)
                h = tagger = L.Dense(2, name=f"tag{i}", kernel_constraint=lib.constraints.MaxNorm(0.8),
                                     activity_regularizer=lib.regularizers.L2(0.02) if spec["activity"] else None)(s)
            else:
                h = rnn(4, name=f"r{i}")(e)
        if spec["dropout"] and tagger is None:
            h = L.Dropout(0.0, name=f"drop{i}")(h)
        inputs.append(x)
        feats.append(h)
    if tagger is not None:
        model = (cls or lib.Model)(inputs[0], [tagger] if not spec["as_dict"] else {"o0": tagger},
                                   **({"seed": 0} if lib is gn else {}))
        if spec["frozen"]:
            model.get_layer("e0").trainable = False
        return model
    if len(feats) > 1:
        h = (L.Add(name="merge") if spec["merge"] == "add" else L.Concatenate(name="merge"))(feats)
    else:
        h = feats[0]
    if spec["block"]:
        h = _block_class(lib)(spec["block_dead"], name="block")(h)
    h = L.Dense(4, activation="tanh", name="trunk", kernel_constraint=lib.constraints.MaxNorm(0.8))(h)
    outs = []
    for j, head in enumerate(spec["heads"]):
        units, act = {"sce": (3, "softmax"), "bce": (1, "sigmoid"), "mse": (2, None)}[head["loss"]]
        outs.append(L.Dense(units, activation=act, name=f"head{j}", kernel_regularizer=reg())(h))
    names = [f"o{j}" for j in range(len(outs))]
    outputs = dict(zip(names, outs)) if spec["as_dict"] else outs
    one_input = inputs[0] if len(inputs) == 1 else inputs
    cls = cls or lib.Model
    model = cls(one_input, outputs, seed=0) if lib is gn else cls(one_input, outputs)
    if spec["frozen"]:
        model.get_layer("trunk").trainable = False
    return model


def losses_of(spec):
    """(losses, loss_weights) in the outputs' order; None for an unscored output."""
    losses, weights = [], []
    for head in spec["heads"]:
        losses.append(None if head["none"] else {"sce": "sparse_categorical_crossentropy",
                                                 "bce": "binary_crossentropy", "mse": "mse"}[head["loss"]])
        weights.append(head["weight"])
    if any(t["kind"] == "tok" and t["tagger"] for t in spec["trunks"]):
        losses.append("mse")
        weights.append(0.5)
    return losses, weights


def data(spec, seed):
    r = np.random.default_rng(seed + 1000)
    xs = []
    for t in spec["trunks"]:
        if t["kind"] == "vec":
            xs.append(r.normal(size=(N, 3)).astype(np.float32))
        elif t["kind"] == "seq":
            xs.append(r.normal(size=(N, T, 2)).astype(np.float32))
        else:
            tok = r.integers(1, V, size=(N, T))
            lengths = r.integers(1, T + 1, size=N)
            tok[np.arange(T)[None, :] >= lengths[:, None]] = 0
            xs.append(tok.astype(np.int32))
    ys = []
    for head in spec["heads"]:
        ys.append({"sce": lambda: r.integers(0, 3, size=N),
                   "bce": lambda: (r.random((N, 1)) > 0.5).astype(np.float32),
                   "mse": lambda: r.normal(size=(N, 2)).astype(np.float32)}[head["loss"]]())
    losses, _ = losses_of(spec)
    if len(losses) > len(spec["heads"]):
        ys.append(r.normal(size=(N, T, 2)).astype(np.float32))
    sw = None
    if spec["sw"] == "shared":
        sw = r.uniform(0.2, 2.0, size=N).astype(np.float32)
    elif spec["sw"] == "per":
        sw = [r.uniform(0.2, 2.0, size=N).astype(np.float32) for _ in ys]
    if len(losses) > len(spec["heads"]) and sw is not None:
        # a masked output: weights per position (Keras 3.15 fails on (n,) weights times an (n, steps) mask)
        sw = r.uniform(0.2, 2.0, size=(N, T)).astype(np.float32)
        sw = [sw] if spec["sw"] == "per" else sw
    x = xs[0] if len(xs) == 1 else xs
    return x, ys, sw


def structured(spec, ys, sw):
    """y (None for an unscored output) and sample_weight, as a list or as a dict by output name."""
    losses, _ = losses_of(spec)
    y = [None if loss is None else v for loss, v in zip(losses, ys)]
    if spec["as_dict"]:
        names = [f"o{j}" for j in range(len(ys))]
        y = {n: v for n, v in zip(names, y) if v is not None}
        if isinstance(sw, list):
            sw = {n: w for n, w, v in zip(names, sw, losses) if v is not None}
    return y, sw


def compile_args(spec):
    losses, weights = losses_of(spec)
    if spec["as_dict"]:
        names = [f"o{j}" for j in range(len(losses))]
        return ({n: v for n, v in zip(names, losses) if v is not None},
                {n: w for n, w, v in zip(names, weights, losses) if v is not None})
    return losses, weights


def twins(keras, spec, cls=None, keras_cls=None):
    ours = build(gn, spec, cls)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = build(keras, spec, keras_cls)
    theirs.set_weights(ours.get_weights())
    return ours, theirs


def keras_forms(spec, ys, sw):
    """Keras is given every output's targets (it skips an unscored one's), as a list or a dict."""
    if spec["as_dict"]:
        names = [f"o{j}" for j in range(len(ys))]
        return dict(zip(names, ys)), (dict(zip(names, sw)) if isinstance(sw, list) else sw)
    return ys, sw


def compiled_twins(keras, spec, optimizers=("sgd", "sgd"), cls=None, keras_cls=None):
    ours, theirs = twins(keras, spec, cls, keras_cls)
    losses, weights = compile_args(spec)
    ours.compile(loss=losses, loss_weights=weights, optimizer=optimizers[0])
    theirs.compile(loss=losses, loss_weights=weights, optimizer=optimizers[1])
    return ours, theirs


def gn_step(model, optimizer, x, y, sw):
    with gn.GradientTape() as tape:
        pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=pred, sample_weight=sw)
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))
    return float(loss), grads


def keras_step(model, optimizer, x, y, sw):
    import tensorflow as tf
    with tf.GradientTape() as tape:
        pred = model(x, training=True)
        loss = model.compute_loss(x=x, y=y, y_pred=pred, sample_weight=sw)
    # dense: Keras-TF's Adam squares an Embedding's IndexedSlices per occurrence of an id, not the
    # dense rule's (tests/test_review_embadam.py, docs/keras_parity.md)
    grads = [None if g is None else tf.convert_to_tensor(g) for g in tape.gradient(loss, model.trainable_weights)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")         # ("Gradients do not exist for variables ...")
        optimizer.apply_gradients(zip(grads, model.trainable_weights))
    return float(loss), [None if g is None else tf.convert_to_tensor(g).numpy() for g in grads]


def only_unscored(model, spec):
    """The weights that only an unscored output's layer holds (TF: None; glassnet: zeros, documented)."""
    losses, _ = losses_of(spec)
    held = set()
    for j, loss in enumerate(losses):
        if loss is None:
            held.update(id(w) for w in model.get_layer(f"head{j}").weights)
    return held


def check_gradients(keras, seed):
    """(a) compute_loss and every gradient, None pattern included, against Keras + tf.GradientTape."""
    spec = draw(seed)
    ours, theirs = compiled_twins(keras, spec)
    x, ys, sw = data(spec, seed)
    y, w = structured(spec, ys, sw)
    ky, kw = keras_forms(spec, ys, sw)
    loss, grads = gn_step(ours, gn.optimizers.SGD(learning_rate=0.0), x, y, w)
    k_loss, k_grads = keras_step(theirs, keras.optimizers.SGD(0.0), x, ky, kw)
    assert loss == pytest.approx(k_loss, rel=1e-4), spec
    assert len(grads) == len(k_grads), spec
    unscored = only_unscored(theirs, spec)
    for g, k, v in zip(grads, k_grads, theirs.trainable_weights):
        if k is None and id(v) in unscored and g is not None:
            assert not np.any(g), (v.path, spec)        # (documented: zeros where TF gives None)
            continue
        assert (g is None) == (k is None), (v.path, spec)
        if k is not None:
            np.testing.assert_allclose(g, k, rtol=1e-4, atol=1e-6, err_msg=f"{v.path} {spec}")


def check_loops(keras, seed):
    """(b) three steps of a loop of one's own (SGD momentum + weight_decay; AdamW, the trunk's
    MaxNorm constraint) against Keras' same loop: the weights."""
    spec = draw(seed)
    x, ys, sw = data(spec, seed)
    y, w = structured(spec, ys, sw)
    ky, kw = keras_forms(spec, ys, sw)
    # (AdamW to 1e-4, as the README's Adam comparisons: sqrt(v) + eps magnifies float32 rounding of
    # small gradients, the recurrent kernels' here)
    for make, tol in ((lambda lib: lib.optimizers.SGD(0.05, momentum=0.9, weight_decay=0.1), 1e-5),
                      (lambda lib: lib.optimizers.AdamW(0.02, weight_decay=0.2, epsilon=1e-12), 1e-4)):
        ours, theirs = compiled_twins(keras, spec)
        mine, their = make(gn), make(keras)
        for _ in range(3):
            gn_step(ours, mine, x, y, w)
            keras_step(theirs, their, x, ky, kw)
        unscored = only_unscored(theirs, spec)
        for a, b, v in zip(ours.get_weights(), theirs.get_weights(), theirs.weights):
            if id(v) in unscored:       # (zeros, not None, there: weight decay and momentum move it)
                continue
            np.testing.assert_allclose(a, b, rtol=tol, atol=tol, err_msg=f"{v.path} {type(mine).__name__} {spec}")


def check_own_loop_against_fit(seed):
    """(c) glassnet's loop on the model's compiled optimizer against train_on_batch of its twin."""
    spec = draw(seed)
    x, ys, sw = data(spec, seed)
    y, w = structured(spec, ys, sw)
    losses, weights = compile_args(spec)
    models = []
    for _ in range(2):
        gn.utils.clear_session()
        model = build(gn, spec)
        model.compile(loss=losses, loss_weights=weights,
                      optimizer=gn.optimizers.SGD(learning_rate=0.05, momentum=0.9, weight_decay=0.1))
        models.append(model)
    looped, batched = models
    for _ in range(3):
        loss, _ = gn_step(looped, looped.optimizer, x, y, w)
        logged = batched.train_on_batch(x, y, sample_weight=w)
        assert loss == pytest.approx(float(np.ravel(logged)[0]), rel=1e-6, abs=1e-7), spec
    for a, b in zip(looped.get_weights(), batched.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=str(spec))


class Super(gn.Model):
    def train_step(self, data):
        return super().train_step(data)


def check_super_step_against_fit(seed):
    """(d) super().train_step against plain fit (the same model, weights and batches)."""
    spec = draw(seed)
    x, ys, sw = data(spec, seed)
    y, w = structured(spec, ys, sw)
    if isinstance(w, (list, dict)) or (w is not None and w.ndim > 1):
        w = None        # (fit hands a step one weight per sample, (n,))
    losses, weights = compile_args(spec)
    histories, finals = [], []
    for cls in (gn.Model, Super):
        gn.utils.clear_session()
        model = build(gn, spec, cls)
        model.compile(loss=losses, loss_weights=weights, optimizer=gn.optimizers.Adam(learning_rate=0.01))
        history = model.fit(x, y, sample_weight=w, batch_size=4, epochs=2, shuffle=False, verbose=0).history
        histories.append(history["loss"])
        finals.append(model.get_weights())
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-6, err_msg=str(spec))
    for a, b in zip(*finals):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-6, err_msg=str(spec))


# -- the fixed seeds ---------------------------------------------------------------------------------

def _one_output(seed):
    spec = draw(seed)
    return len(losses_of(spec)[0]) == 1


@pytest.mark.parametrize("seed", range(40))
def test_fuzz_gradients_match_tf(keras, seed):
    check_gradients(keras, seed)


@pytest.mark.parametrize("seed", [0, 1, 3, 4, 7, 8, 12, 16, 35, 44, 47, 50])
def test_fuzz_loops_match_keras(keras, seed):
    check_loops(keras, seed)


@pytest.mark.parametrize("seed", range(24))
def test_fuzz_own_loop_equals_train_on_batch(seed):
    check_own_loop_against_fit(seed)


@pytest.mark.parametrize("seed", [s for s in range(60) if _one_output(s)][:16])
def test_fuzz_super_train_step_equals_fit(seed):
    check_super_step_against_fit(seed)


# -- the bugs the fuzzing found ----------------------------------------------------------------------

def _one_output_model(lib, as_dict):
    i = lib.Input((3,))
    o = lib.layers.Dense(3, activation="softmax", name="o0", kernel_regularizer=lib.regularizers.L2(0.01))(i)
    model = lib.Model(i, {"o0": o} if as_dict else [o], **({"seed": 0} if lib is gn else {}))
    model.compile(loss={"o0": "sparse_categorical_crossentropy"} if as_dict else ["sparse_categorical_crossentropy"],
                  loss_weights={"o0": 1.5} if as_dict else [1.5], optimizer="sgd")
    return model


@pytest.mark.parametrize("as_dict", [False, True])
@pytest.mark.parametrize("weights", [None, "array", "wrapped"])
def test_compute_loss_takes_keras_forms_of_one_output(keras, as_dict, weights):
    """A model of one output given as [o] or {"o0": o}: compute_loss takes y_pred as self(x) gives
    it ({"o0": array} for the dict), y and sample_weight as [y] / {"o0": y}, as Keras 3.15's and fit
    do. It failed: the dict y_pred read as a 0-d object array (IndexError), [y] as one sample's
    labels ("expected integer class labels of shape (6,), got (1, 6)")."""
    import tensorflow as tf
    rng = np.random.default_rng(0)
    x = rng.normal(size=(6, 3)).astype(np.float32)
    labels, sw = rng.integers(0, 3, 6), rng.uniform(0.2, 2, 6).astype(np.float32)
    ours, theirs = _one_output_model(gn, as_dict), _one_output_model(keras, as_dict)
    theirs.set_weights(ours.get_weights())
    y = {"o0": labels} if as_dict else [labels]
    w = {None: None, "array": sw, "wrapped": {"o0": sw} if as_dict else [sw]}[weights]
    with gn.GradientTape() as tape:
        loss = ours.compute_loss(x=x, y=y, y_pred=ours(x, training=True), sample_weight=w)
    grads = tape.gradient(loss, ours.trainable_weights)
    with tf.GradientTape() as k_tape:
        k_loss = theirs.compute_loss(x=x, y=y, y_pred=theirs(x, training=True), sample_weight=w)
    k_grads = k_tape.gradient(k_loss, theirs.trainable_weights)
    assert float(loss) == pytest.approx(float(k_loss), rel=1e-5)
    for g, k in zip(grads, k_grads):
        np.testing.assert_allclose(g, k.numpy(), rtol=1e-4, atol=1e-6)


def _guide_step(base, tape_class):
    class Stepped(base):
        """keras.io's "Customizing what happens in fit()": a train_step of one's own on compute_loss."""

        def train_step(self, data):
            x, y = data
            with tape_class() as tape:
                y_pred = self(x, training=True)
                loss = self.compute_loss(y=y, y_pred=y_pred)
            grads = tape.gradient(loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            return {"out": loss}
    return Stepped


def test_own_train_step_fit_takes_none_targets_of_an_unscored_output(keras):
    """fit(x, [y_a, None]) of a model with a train_step of its own, the second output compiled with
    a None loss: Keras 3.15 hands the step [y_a, None]; glassnet refused "y[1]: expected an array,
    got None" while cutting the batches (plain fit took it)."""
    import tensorflow as tf
    rng = np.random.default_rng(1)
    x = rng.normal(size=(8, 3)).astype(np.float32)
    y_a = rng.normal(size=(8, 2)).astype(np.float32)
    finals = []
    for lib, tape_class in ((gn, gn.GradientTape), (keras, tf.GradientTape)):
        i = lib.Input((3,))
        h = lib.layers.Dense(4, activation="tanh", name="h")(i)
        model = _guide_step(lib.Model, tape_class)(i, [lib.layers.Dense(2, name="a")(h),
                                                       lib.layers.Dense(1, name="b")(h)])
        model.compile(loss=["mse", None], optimizer=lib.optimizers.SGD(0.1))
        if finals:
            model.set_weights(finals[0][1])
        else:
            finals.append((None, [w.copy() for w in model.get_weights()]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x, [y_a, None], batch_size=4, epochs=2, shuffle=False, verbose=0)
        finals.append((lib, model.get_weights()))
    (_, ours), (_, theirs) = finals[1], finals[2]
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
