"""Review (sharedrev): models sharing layers (a feature extractor drawn from a base model, a GAN's
combined model nesting it, a Sequential of its layers) interleaving fit, train_on_batch,
GradientTape steps, set_weights and save/load, against Keras 3.15 (one variable per weight)."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

# (Keras warns of the structure of a functional model's inputs given as one array)
pytestmark = pytest.mark.filterwarnings("ignore:The structure of `inputs`:UserWarning")


def _models(lib, seed=1):
    """base: x (4) -> h (3, tanh) -> o (2); feat = Model(base.inputs, h.output); G: z (2) -> 4 (tanh);
    combined = Model(z, base(G(z)))."""
    i = lib.Input((4,))
    h = lib.layers.Dense(3, activation="tanh", name="h")(i)
    o = lib.layers.Dense(2, name="o")(h)
    base = lib.Model(i, o, **({"seed": seed} if lib is gn else {}))
    feat = lib.Model(base.inputs, base.get_layer("h").output)
    if lib is gn:
        g = gn.Sequential([gn.layers.Dense(4, activation="tanh", input_dim=2, name="g1")], seed=seed + 5)
    else:
        g = lib.Sequential([lib.Input((2,)), lib.layers.Dense(4, activation="tanh", name="g1")])
    z = lib.Input((2,))
    return base, feat, g, lib.Model(z, base(g(z)))


def _data(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 2)).astype(np.float32),
            rng.normal(size=(8, 3)).astype(np.float32), rng.normal(size=(6, 2)).astype(np.float32))


# -- a model's tape gradient after another model sharing its layers marked them -----------------------
@pytest.mark.parametrize("before", ["base.fit", "feat.train_on_batch", "feat.save"])
def test_combined_tape_gradient_reaches_g_after_another_models_step(keras, before, tmp_path):
    """base.fit (or feat.train_on_batch, feat.save) marks h, the first layer there, as making no
    dL/d(input); a tape over combined = Model(z, base(G(z))) then stopped its walk at h: G's
    gradients were None (G never trained in a custom loop), where TF's are not."""
    import tensorflow as tf
    x, y, f, z = _data()
    base, feat, g, combined = _models(gn)
    kbase, kfeat, kg, kcombined = _models(keras)
    kbase.set_weights(base.get_weights())
    kg.set_weights(g.get_weights())
    for lib, (b, fe) in ((gn, (base, feat)), (keras, (kbase, kfeat))):
        b.compile(loss="mse", optimizer=lib.optimizers.SGD(0.1))
        fe.compile(loss="mse", optimizer=lib.optimizers.SGD(0.1))
    if before == "base.fit":
        base.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        kbase.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    elif before == "feat.train_on_batch":
        feat.train_on_batch(x, f)
        kfeat.train_on_batch(x, f)
    else:
        feat.save(str(tmp_path / "feat.npz"))
    with gn.GradientTape() as tape:
        loss = ops.mean(ops.square(combined(z, training=True) - 0.5))
    grads = tape.gradient(loss, combined.trainable_weights)
    with tf.GradientTape() as ktape:
        kloss = tf.reduce_mean(tf.square(kcombined(z, training=True) - 0.5))
    kgrads = ktape.gradient(kloss, kcombined.trainable_weights)
    assert float(loss) == pytest.approx(float(kloss), rel=1e-5)
    for mine, theirs in zip(grads, kgrads):
        assert mine is not None, "a gradient TF gives was None"
        np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-5, atol=1e-6)


# -- apply_gradients on a part of a model's weights, with its compiled optimizer ---------------------------
def _momentum(lib):
    return lib.optimizers.SGD(learning_rate=0.1, momentum=0.9)


@pytest.mark.parametrize("part", ["layer", "slice"])
def test_a_part_of_the_weights_shares_fits_optimizer_state(keras, part):
    """base.fit, a tape step of base.optimizer on h's weights alone (layer.trainable_weights, or
    base.trainable_weights[:2]), base.fit again: Keras' momentum of h is one (fit's); glassnet's
    step kept a momentum of its own for h (each weight under a key of its own), which the next fit
    never read, and fit's never saw the step."""
    import tensorflow as tf
    x, y, _, _ = _data(1)
    base, _, _, _ = _models(gn)
    kbase, _, _, _ = _models(keras)
    kbase.set_weights(base.get_weights())
    base.compile(loss="mse", optimizer=_momentum(gn))
    kbase.compile(loss="mse", optimizer=_momentum(keras))
    pick = {"layer": lambda m: m.get_layer("h").trainable_weights, "slice": lambda m: m.trainable_weights[:2]}[part]
    for _ in range(2):
        base.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        kbase.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        weights, kweights = pick(base), pick(kbase)
        with gn.GradientTape() as tape:
            loss = ops.mean(ops.square(base(x, training=True)))
        base.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
        with tf.GradientTape() as ktape:
            kloss = tf.reduce_mean(tf.square(kbase(x, training=True)))
        kbase.optimizer.apply_gradients(zip(ktape.gradient(kloss, kweights), kweights))
    base.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    kbase.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for mine, theirs in zip(base.get_weights(), kbase.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-5, atol=1e-6)


def test_model_file_loads_after_its_optimizer_stepped_a_shared_layer(tmp_path):
    """base.optimizer stepping the shared layer h through the extractor's arrays (or the layer's,
    while another model's view is attached): base.save wrote that state under keys of no
    parameter of base, and load_model refused the file ("keys ... are not among the model's
    parameters")."""
    x, y, f, _ = _data(2)
    base, feat, _, _ = _models(gn)
    seq = gn.Sequential([base.get_layer("h"), base.get_layer("o")])     # (h holds seq's view now)
    base.compile(loss="mse", optimizer=_momentum(gn))
    base.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
    for weights in (feat.trainable_weights, seq.get_layer("h").trainable_weights):
        with gn.GradientTape() as tape:
            loss = ops.mean(ops.square(feat(x, training=True) - f))
        base.optimizer.apply_gradients(zip(tape.gradient(loss, weights), weights))
    path = str(tmp_path / "base.npz")
    base.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), base.predict(x, verbose=0), rtol=1e-6)
    # fit's own state (momentum of every weight of base) came back: the next step is the same
    base.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for mine, theirs in zip(loaded.get_weights(), base.get_weights()):
        np.testing.assert_allclose(mine, theirs, rtol=1e-6, atol=1e-7)


# -- the interleaving driver ------------------------------------------------------------------------------
class _World:
    """base, feat, G, combined and seq = Sequential(base's layers) of one library, compiled with
    SGD(momentum) each (Keras eagerly: no tracing), and a tape optimizer per target."""

    def __init__(self, lib, start=None):
        self.lib, self.tape_opts, self.loads = lib, {}, 0
        self.m = dict(zip(("base", "feat", "G", "combined"), _models(lib)))
        self.m["seq"] = lib.Sequential([self.m["base"].get_layer("h"), self.m["base"].get_layer("o")])
        if start is not None:
            self.m["base"].set_weights(start[0])
            self.m["G"].set_weights(start[1])
        for name in ("base", "feat", "combined"):
            self.m[name].compile(loss="mse", optimizer=_momentum(lib), **({"run_eagerly": True} if lib is not gn else {}))
        if lib is not gn:           # (built on all of base's weights: a tape step on a part of them may come first)
            self.m["base"].optimizer.build(self.m["base"].trainable_variables)

    def tape_step(self, target, calls, compiled, x, z):
        m, lib = self.m, self.lib
        weights = m["base"].get_layer("h").trainable_weights if target == "layer" else m[target].trainable_weights
        opt = m["base"].optimizer if compiled else self.tape_opts.setdefault((target, self.loads), _momentum(lib))
        if lib is gn:
            tape, mean, square = gn.GradientTape(), ops.mean, ops.square
        else:
            import tensorflow as tf
            tape, mean, square = tf.GradientTape(), tf.reduce_mean, tf.square
        with tape:
            loss = 0.0
            if "base" in calls:
                loss = loss + mean(square(m["base"](x, training=True)))
            if "feat" in calls:
                loss = loss + mean(square(m["feat"](x, training=True) - 0.3))
            if "combined" in calls:
                loss = loss + mean(square(m["combined"](z, training=True) - 0.5))
        grads = tape.gradient(loss, weights)
        if any(g is not None for g in grads):
            opt.apply_gradients(zip(grads, weights))
        return [None if g is None else np.asarray(g) for g in grads]

    def step(self, op, data, noise, path):
        x, y, f, z, yc = data
        m = self.m
        if op[0] == "fit":
            m["base"].fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0)
        elif op[0] == "feat.train_on_batch":
            m["feat"].train_on_batch(x[:4], f[:4])
        elif op[0] == "combined.train_on_batch":
            m["combined"].train_on_batch(z, yc)
        elif op[0] == "tape":
            return self.tape_step(*op[1:], x, z)
        elif op[0] == "set_weights":
            m[op[1]].set_weights([w + n for w, n in zip(m[op[1]].get_weights(), noise)])
        elif op[0] == "load":
            path = f"{path}.{'npz' if self.lib is gn else 'keras'}"
            m[op[1]].save(path)
            m[op[1]] = gn.load_model(path) if self.lib is gn else self.lib.models.load_model(path)
            self.loads += 1

    def outputs(self, x, z):
        call = (lambda name, a: self.m[name].predict(a, verbose=0)) if self.lib is gn else \
            (lambda name, a: np.asarray(self.m[name](a)))
        return {name: ([call(name, z if name in ("G", "combined") else x)], self.m[name].get_weights())
                for name in self.m}


def _ops(rng):
    ops_, loaded = [], False
    for _ in range(int(rng.integers(6, 13))):
        r = int(rng.integers(0, 7))
        if r < 3:
            ops_.append((("fit",), ("feat.train_on_batch",), ("combined.train_on_batch",))[r])
        elif r < 5:
            # (base's compiled optimizer on the arrays of any model sharing base's layers, or on h's
            # own: one state per shared weight, as Keras' one variable, glassnet.optimizers._shared;
            # not on combined's, nor after a load, whose G's or loaded layers' variables Keras'
            # optimizer, built on base's, refuses as unknown)
            target = ("base", "feat", "combined", "seq", "layer")[int(rng.integers(0, 5))]
            calls = tuple(c for c in ("base", "feat", "combined") if rng.random() < 0.6) or ("feat",)
            ops_.append(("tape", target, calls, target != "combined" and not loaded and rng.random() < 0.4))
        elif r == 5 or loaded:
            ops_.append(("set_weights", ("base", "feat", "G", "combined", "seq")[int(rng.integers(0, 5))]))
        else:
            loaded = True
            ops_.append(("load", ("base", "feat", "combined")[int(rng.integers(0, 3))]))
    return ops_


@pytest.mark.parametrize("seed", range(30))
def test_interleaved_steps_of_models_sharing_layers_match_keras(keras, seed, tmp_path):
    """A seeded sequence of base.fit, feat.train_on_batch, combined.train_on_batch, tape steps on
    base's / feat's / combined's / seq's weights (an optimizer each, or base's compiled one on base's),
    set_weights on one model and save -> load_model of one (going on with the loaded one), mirrored
    in Keras 3.15 from the same weights: every model's outputs and weights after every step."""
    import warnings
    rng = np.random.default_rng(seed)
    data = (rng.normal(size=(8, 4)), rng.normal(size=(8, 2)), 0.5 * rng.normal(size=(8, 3)),
            rng.normal(size=(6, 2)), rng.normal(size=(6, 2)))
    data = tuple(a.astype(np.float32) for a in data)
    ours = _World(gn)
    theirs = _World(keras, (ours.m["base"].get_weights(), ours.m["G"].get_weights()))
    for k, op in enumerate(_ops(rng)):
        noise = [0.1 * rng.normal(size=w.shape).astype(np.float32) for w in ours.m[op[1]].get_weights()] \
            if op[0] == "set_weights" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            grads = ours.step(op, data, noise, str(tmp_path / f"gn{k}"))
            kgrads = theirs.step(op, data, noise, str(tmp_path / f"k{k}"))
        if op[0] == "tape":
            assert [g is None for g in grads] == [g is None for g in kgrads], (k, op)
            for a, b in zip(grads, kgrads):
                if a is not None:
                    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"step {k} {op}")
        mine, expected = ours.outputs(data[0], data[3]), theirs.outputs(data[0], data[3])
        for name in mine:
            for a, b in zip(sum(mine[name], []), sum(expected[name], [])):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5, err_msg=f"step {k} {op}: {name}")
