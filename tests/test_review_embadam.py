"""Review: an ``Embedding`` trained by Adam (and the other optimizers that square gradients) ends
about 1e-3 apart from Keras 3.15 in loss, where dense models agree to float32 noise.

The cause is Keras' TensorFlow backend, not glassnet: there an Embedding's gradient is a
``tf.IndexedSlices``, one slice per occurrence of an index in the batch; ``ops.square`` squares each
slice, and adding that to the dense second moment sums them, so a row picked k times in a batch
gets ``sum_i g_i^2`` in its second moment where the rule (and PyTorch's dense Adam, and Keras on
its torch or JAX backend) takes ``(sum_i g_i)^2``. The update is not lazy: every row's moments
decay at every step, as the dense rule's. These tests pin down: glassnet equals PyTorch's dense
optimizers step for step with repeated ids; glassnet equals Keras-TF wherever Keras' rule is the
dense one (SGD, momentum, Lion with repeats; every optimizer when no id repeats within a batch,
including rows left out of a batch, which keep moving by their moments in both); and Keras-TF's
numbers are exactly the per-occurrence-squares rule (docs/keras_parity.md says so)."""
import os

import numpy as np
import pytest

import glassnet as gn

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

V, D, L = 20, 4, 6          # vocabulary, vector length, ids per sequence
LR, B1, B2 = 2 ** -7, 0.875, 1 - 2 ** -10   # exact in float32: Keras keeps its lr (and casts betas) in float32
EPS = 1e-20                 # negligible where each puts it (Keras inside / before the bias correction)


def _ours(optimizer, mask_zero=False, pool="average"):
    model = gn.Sequential([gn.layers.Input((L,), dtype="int32"),
                           gn.layers.Embedding(V, D, embeddings_initializer="random_normal", mask_zero=mask_zero),
                           gn.layers.GlobalAveragePooling1D() if pool == "average" else gn.layers.Flatten(),
                           gn.layers.Dense(1)], seed=0, dtype="float64")
    # logits: Keras' binary cross-entropy on probabilities adds its epsilon inside the log
    model.compile(gn.losses.BinaryCrossentropy(from_logits=True), optimizer)
    return model


def _theirs(keras, optimizer, weights):
    # float64 throughout, the loss too: a Keras loss computes in floatx (float32) unless told
    f64 = {"dtype": "float64"}
    model = keras.Sequential([keras.Input((L,), dtype="int32"), keras.layers.Embedding(V, D, **f64),
                              keras.layers.GlobalAveragePooling1D(**f64),
                              keras.layers.Dense(1, **f64)])
    model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True, **f64), optimizer=optimizer)
    model.set_weights(weights)
    return model


def _repeated_batches(rng, batches=4, rows=8):
    """Batches of ids in which most ids occur several times (48 draws from 20), labels 0/1; ids of 0
    too (padding under mask_zero)."""
    x = rng.integers(0, V, (batches, rows, L))
    assert all(len(np.unique(b)) < b.size for b in x)
    return x, rng.integers(0, 2, (batches, rows, 1)).astype("float64")


def _unrepeated_batches(rng, batches=4):
    """Batches of 2 sequences whose 12 ids are all different (no id twice in a batch), from 1 to 19,
    each batch leaving some ids out that an earlier one had."""
    x = np.stack([(rng.permutation(V - 1)[: 2 * L] + 1).reshape(2, L) for _ in range(batches)])
    return x, rng.integers(0, 2, (batches, 2, 1)).astype("float64")


def _max_diff(a, b):
    return max(float(np.abs(p - q).max()) for p, q in zip(a, b))


@pytest.mark.parametrize("name, mask_zero, pool", [
    ("adam", False, "average"), ("adam", True, "average"), ("adam", False, "flatten"), ("adamw", False, "average"),
    ("rmsprop", False, "average"), ("adagrad", False, "average"), ("amsgrad", False, "average")])
def test_an_embedding_trains_as_pytorchs_dense_optimizers_with_repeated_ids(name, mask_zero, pool, rng, torch):
    # nn.Embedding's default gradient is dense (the row sums of its occurrences), as glassnet's
    ours_opt, make_theirs = {
        "adam": (gn.optimizers.Adam(LR, B1, B2, EPS), lambda p: torch.optim.Adam(p, LR, (B1, B2), EPS)),
        "amsgrad": (gn.optimizers.Adam(LR, B1, B2, EPS, amsgrad=True),
                    lambda p: torch.optim.Adam(p, LR, (B1, B2), EPS, amsgrad=True)),
        "adamw": (gn.optimizers.AdamW(LR, 0.25, B1, B2, EPS),
                  lambda p: torch.optim.AdamW(p, LR, (B1, B2), EPS, weight_decay=0.25)),
        "rmsprop": (gn.optimizers.RMSprop(LR, rho=0.875, epsilon=EPS),
                    lambda p: torch.optim.RMSprop(p, LR, alpha=0.875, eps=EPS)),
        "adagrad": (gn.optimizers.Adagrad(0.125, epsilon=EPS),
                    lambda p: torch.optim.Adagrad(p, 0.125, initial_accumulator_value=0.1, eps=EPS)),
    }[name]
    ours = _ours(ours_opt, mask_zero, pool)
    table, kernel, bias = (torch.tensor(w) for w in ours.get_weights())
    for w in (table, kernel, bias):
        w.requires_grad_(True)
    theirs = make_theirs([table, kernel, bias])
    x, y = _repeated_batches(rng)
    for step, (xb, yb) in enumerate(zip(x, y)):
        ours.train_on_batch(xb, yb)
        theirs.zero_grad()
        ids = torch.tensor(xb)
        vectors = torch.nn.functional.embedding(ids, table)
        if pool == "flatten":
            features = vectors.reshape(len(xb), -1)
        elif mask_zero:             # Keras' masked average: the mean over the ids that are not 0
            keep = (ids != 0).unsqueeze(-1).to(vectors.dtype)
            features = (vectors * keep).sum(1) / keep.sum(1)
        else:
            features = vectors.mean(1)
        logits = features @ kernel + bias
        torch.nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor(yb)).backward()
        theirs.step()
        diff = _max_diff(ours.get_weights(), [w.detach().numpy() for w in (table, kernel, bias)])
        assert diff < 1e-13, (step, diff)


@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov", "lion"])
def test_keras_agrees_with_repeated_ids_where_its_update_is_linear_in_the_gradient(name, rng, keras):
    # Keras-TF sums an IndexedSlices' occurrences before any rule that is linear in the gradient
    ours_opt, theirs_opt = {
        "sgd": (gn.optimizers.SGD(0.125), keras.optimizers.SGD(0.125)),
        "momentum": (gn.optimizers.SGD(0.125, momentum=0.5), keras.optimizers.SGD(0.125, momentum=0.5)),
        "nesterov": (gn.optimizers.SGD(0.125, momentum=0.5, nesterov=True),
                     keras.optimizers.SGD(0.125, momentum=0.5, nesterov=True)),
        "lion": (gn.optimizers.Lion(LR), keras.optimizers.Lion(LR)),
    }[name]
    ours = _ours(ours_opt)
    theirs = _theirs(keras, theirs_opt, ours.get_weights())
    x, y = _repeated_batches(rng)
    for step, (xb, yb) in enumerate(zip(x, y)):
        ours.train_on_batch(xb, yb)
        theirs.train_on_batch(xb, yb)
        diff = _max_diff(ours.get_weights(), theirs.get_weights())
        assert diff < 1e-9, (step, diff)


@pytest.mark.parametrize("name", ["adam", "adamw", "rmsprop", "adagrad", "nadam"])
def test_keras_agrees_on_every_optimizer_when_no_id_repeats_within_a_batch(name, rng, keras):
    # the same optimizers that differ with repeated ids; rows left out of a batch keep moving by
    # their moments in Keras too (its update is dense, not TensorFlow's "lazy" sparse Adam)
    ours_opt, theirs_opt = {
        "adam": (gn.optimizers.Adam(LR, B1, B2, EPS), keras.optimizers.Adam(LR, B1, B2, EPS)),
        "adamw": (gn.optimizers.AdamW(LR, 0.25, B1, B2, EPS), keras.optimizers.AdamW(LR, 0.25, B1, B2, EPS)),
        "rmsprop": (gn.optimizers.RMSprop(LR, 0.875, epsilon=EPS), keras.optimizers.RMSprop(LR, 0.875, epsilon=EPS)),
        "adagrad": (gn.optimizers.Adagrad(0.125, epsilon=EPS), keras.optimizers.Adagrad(0.125, epsilon=EPS)),
        # momentum_decay=1.0 is Keras 3's Nadam (docs: README's glassnet.optimizers row)
        "nadam": (gn.optimizers.Nadam(LR, B1, B2, EPS, momentum_decay=1.0), keras.optimizers.Nadam(LR, B1, B2, EPS)),
    }[name]
    ours = _ours(ours_opt)
    theirs = _theirs(keras, theirs_opt, ours.get_weights())
    x, y = _unrepeated_batches(rng)
    left_out = np.setdiff1d(x[0], x[1])
    assert left_out.size
    for step, (xb, yb) in enumerate(zip(x, y)):
        before = ours.get_weights()[0][left_out].copy()
        ours.train_on_batch(xb, yb)
        theirs.train_on_batch(xb, yb)
        if step == 1 and name in ("adam", "adamw", "nadam"):   # (RMSprop, Adagrad: no first moment)
            assert (ours.get_weights()[0][left_out] != before).all()
        # 1e-14 but for Adagrad and Nadam, whose initial accumulator (0.1) and momentum products
        # Keras keeps in float32: 1e-10
        diff = _max_diff(ours.get_weights(), theirs.get_weights())
        assert diff < 1e-9, (step, diff)


def test_keras_tf_adam_squares_each_occurrence_of_an_id(rng, keras):
    """Keras-TF's Adam on an Embedding is Keras' Adam with ``v += (1 - b2) (sum_i g_i^2 - v)`` per
    row (one g_i per occurrence of the row's id in the batch), and it is that, not glassnet's (the
    rule's) ``(sum_i g_i)^2``, that makes the ~1e-2 difference in the weights."""
    ours = _ours(gn.optimizers.Adam(LR, B1, B2, EPS))
    weights = [w.copy() for w in ours.get_weights()]
    theirs = _theirs(keras, keras.optimizers.Adam(LR, B1, B2, EPS), weights)
    probe = _ours(gn.optimizers.SGD(0.125))     # gradients at the weights of the rule computed here
    m = [np.zeros_like(w) for w in weights]
    v = [np.zeros_like(w) for w in weights]
    x, y = _repeated_batches(rng)
    for t, (xb, yb) in enumerate(zip(x, y), start=1):
        probe.set_weights(weights)
        steps = probe.trace(xb, yb)
        per_position = steps[0]["dA"].reshape(-1, D)        # the gradient of each occurrence
        grads = [steps[0]["grads"]["embeddings"], steps[-1]["grads"]["kernel"], steps[-1]["grads"]["bias"]]
        squares = [np.zeros((V, D)), grads[1] ** 2, grads[2] ** 2]
        np.add.at(squares[0], xb.reshape(-1), per_position ** 2)
        alpha = LR * np.sqrt(1 - B2 ** t) / (1 - B1 ** t)   # Keras' Adam, epsilon before the correction
        for w, m_, v_, g, s in zip(weights, m, v, grads, squares):
            m_ += (g - m_) * (1 - B1)
            v_ += (s - v_) * (1 - B2)
            w -= m_ * alpha / (np.sqrt(v_) + EPS)
        ours.train_on_batch(xb, yb)
        theirs.train_on_batch(xb, yb)
        assert _max_diff(theirs.get_weights(), weights) < 1e-12
    assert _max_diff(ours.get_weights(), theirs.get_weights()) > 1e-3
