"""Review docs41: the README's GradientTape, default steps and wrappers sections walked as a new user;
and this session's ops pages: docs/ops_nn.md said a second-order gradient through its functions is
refused, and docs/ops_opsflow.md that nested tapes differentiate twice only graphs of layers, not
glassnet.ops functions; both went stale when the second-order tape learnt glassnet.ops."""
import pathlib
import re

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _recorded_square(tape, x):
    tape.watch(x)
    return ops.square(x)


@pytest.mark.parametrize("method", ["reshape", "T", "astype"])
@pytest.mark.parametrize("caller", ["gradient", "jacobian", "batch_jacobian"])
def test_target_made_by_an_ndarray_method_is_refused_not_none(torch, method, caller):
    """``tape.gradient(s.reshape(-1), x)`` with ``s`` recorded: TF and torch differentiate the
    reshape (torch's gradient below is not zero); the tape does not see ndarray methods, and gave
    None, silently, where the README says they are refused by name."""
    x = np.arange(1.0, 10.0).reshape(3, 3)          # square: x.T keeps batch_jacobian's batch size
    xt = torch.tensor(x, requires_grad=True)
    (xt ** 2).reshape(-1).sum().backward()
    assert np.abs(xt.grad.numpy()).sum() > 0          # the gradient a user expects is not None
    with gn.GradientTape(persistent=True) as tape:
        s = _recorded_square(tape, x)
        target = {"reshape": lambda: s.reshape(3, 3), "T": lambda: s.T,
                  "astype": lambda: s.astype("float64")}[method]()
    with pytest.raises(TypeError, match=r"GradientTape\.%s: target was made from a recorded value by an ndarray "
                                         r"method.*ops\.reshape" % caller):
        getattr(tape, caller)(target, x)


def test_target_recorded_by_ops_still_differentiates(torch):
    """The refusal above leaves recorded targets alone: ``ops.reshape`` gives torch's gradient."""
    x = np.arange(1.0, 7.0).reshape(2, 3)
    xt = torch.tensor(x, requires_grad=True)
    (xt ** 2).reshape(-1).sum().backward()
    with gn.GradientTape() as tape:
        target = ops.reshape(_recorded_square(tape, x), (-1,))
    np.testing.assert_allclose(tape.gradient(target, x), xt.grad.numpy(), rtol=1e-12)


def test_default_step_of_several_outputs_names_the_per_output_losses(keras):
    """A subclass overriding only ``compute_loss`` on a model of two outputs compiled without any
    metric: Keras 3.15's default step logs each output's loss (``a_loss``, ``b_loss``), which
    glassnet's default step does not track yet. The refusal said "compiled metrics", which this
    model has none of; it names what is missing now."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(16, 4)).astype("float32")
    y = (x[:, :1] > 0).astype("float32")

    def two_outputs(lib, base):
        class Two(base):
            def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
                return super().compute_loss(x, y, y_pred, sample_weight, training)
        inputs = lib.Input((4,))
        hidden = lib.layers.Dense(3)(inputs)
        outputs = [lib.layers.Dense(1, activation="sigmoid", name="a")(hidden), lib.layers.Dense(1, name="b")(hidden)]
        model = Two(inputs, outputs)
        model.compile(optimizer="sgd", loss=["binary_crossentropy", "mse"])
        return model

    logged = two_outputs(keras, keras.Model).fit(x, [y, y], epochs=1, verbose=0).history
    assert {"a_loss", "b_loss"} <= set(logged)
    # the default step now tracks them as Keras' does (tests/test_default_steps_outputs.py compares
    # the values): the same keys
    mine = two_outputs(gn, gn.Model).fit(x, [y, y], epochs=1, verbose=0).history
    assert sorted(mine) == sorted(logged)


# this session's ops pages, walked as a user (second-order claims)

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _penalty_gradient(fn, x):
    """d/dx sum(g * g), g = d sum(fn(x)) / dx taken by a nested tape recorded on the outer one."""
    with gn.GradientTape() as outer:
        outer.watch(x)
        with gn.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(fn(x))
        g = inner.gradient(y, x)
        penalty = ops.sum(g * g)
    return outer.gradient(penalty, x)


def _torch_penalty_gradient(torch, fn, x):
    t = torch.tensor(x, requires_grad=True)
    (g,) = torch.autograd.grad(fn(t).sum(), t, create_graph=True)
    (h,) = torch.autograd.grad((g * g).sum(), t)
    return h.numpy()


def _torch_attention(torch, q, k, v):
    """softmax(q k^T / sqrt(H)) v in the (B, T, N, H) layout, written out (torch's fused CPU attention
    has no double backward)."""
    q, k, v = (u.permute(0, 2, 1, 3) for u in (q, k, v))
    scores = torch.softmax(q @ k.transpose(-1, -2) / q.shape[-1] ** 0.5, dim=-1)
    return (scores @ v).permute(0, 2, 1, 3)


def _nn_cases(torch):
    F = torch.nn.functional
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4))
    targets = np.eye(4)[[0, 1, 3]]
    soft = np.full((3, 4), 0.3)
    labels = np.array([0, 1, 3])
    T = torch.tensor
    return {
        "dot_product_attention": (
            lambda a: ops.dot_product_attention(a, ops.multiply(a, 0.5), ops.tanh(a)),
            lambda t: _torch_attention(torch, t, t * 0.5, torch.tanh(t)),
            rng.normal(size=(2, 3, 2, 4))),
        "rms_normalization": (ops.rms_normalization,
                              lambda t: t * torch.rsqrt((t * t).mean(-1, keepdim=True) + 1e-7), x),
        "normalize": (ops.normalize, lambda t: t / t.norm(dim=-1, keepdim=True), x),
        "binary_crossentropy": (lambda a: ops.binary_crossentropy(soft, a, from_logits=True),
                                lambda t: F.binary_cross_entropy_with_logits(t, T(soft), reduction="none"), x),
        "binary_crossentropy of probabilities": (
            lambda a: ops.binary_crossentropy(soft, ops.sigmoid(a)),
            lambda t: F.binary_cross_entropy_with_logits(t, T(soft), reduction="none"), x),
        "categorical_crossentropy": (
            lambda a: ops.categorical_crossentropy(targets, a, from_logits=True),
            lambda t: F.cross_entropy(t, T(targets), reduction="none"), x),
        "categorical_crossentropy of probabilities": (
            lambda a: ops.categorical_crossentropy(targets, ops.softmax(a)),
            lambda t: F.cross_entropy(t, T(targets), reduction="none"), x),
        "sparse_categorical_crossentropy": (
            lambda a: ops.sparse_categorical_crossentropy(labels, a, from_logits=True),
            lambda t: F.cross_entropy(t, T(labels), reduction="none"), x),
    }


def _second_order_paragraph(page):
    text = (ROOT / "docs" / page).read_text()
    return " ".join(text[text.index("A second-order gradient"):].split())


def test_ops_nn_functions_drawn_from_twice_differentiated_ops_go_through_a_gradient_penalty(torch):
    """docs/ops_nn.md said a second-order gradient through its functions is refused; those drawn
    from ops the nested tape differentiates twice are computed, and equal torch's create_graph."""
    for name, (ours, theirs, x) in _nn_cases(torch).items():
        got = np.asarray(_penalty_gradient(ours, x))
        np.testing.assert_allclose(got, _torch_penalty_gradient(torch, theirs, x), rtol=1e-9, atol=1e-9,
                                   err_msg=name)
    paragraph = _second_order_paragraph("ops_nn.md")
    through = paragraph[:paragraph.index("refused")]
    for name in ("dot_product_attention", "rms_normalization", "normalize", "binary_crossentropy",
                 "categorical_crossentropy", "sparse_categorical_crossentropy"):
        assert f"`{name}`" in through, name


def test_ops_nn_functions_the_doc_calls_refused_are_refused_by_name():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))
    for fn in (ops.layer_normalization, lambda a: ops.moments(a, axes=[0])[1],
               lambda a: ops.normalize(a, order=1), lambda a: ops.psnr(a, np.zeros((3, 4)), 1.0)):
        with pytest.raises(NotImplementedError, match="not among them"):
            _penalty_gradient(fn, x)
    # the linear ones the doc names give no second-order gradient (none, or zeros)
    for fn, shape in ((lambda a: ops.depth_to_space(a, 2), (1, 2, 2, 4)),
                      (lambda a: ops.space_to_depth(a, 2), (1, 2, 2, 4)),
                      (lambda a: ops.unfold(a, 2), (1, 1, 3, 3)),
                      (lambda a: ops.fold(a, (3, 3), 2), (1, 4, 4)),
                      (lambda a: ops.moments(a, axes=[0])[0], (3, 4))):
        h = _penalty_gradient(fn, rng.normal(size=shape))
        assert h is None or not np.any(np.asarray(h))
    paragraph = _second_order_paragraph("ops_nn.md")
    refused = paragraph[paragraph.index("refused") - 200:]
    for name in ("layer_normalization", "psnr"):
        assert f"`{name}`" in refused


def test_ops_opsflow_on_jvp_and_second_order_through_ops(torch):
    """docs/ops_opsflow.md said nested tapes give second-order gradients only for graphs of layers,
    not for glassnet.ops functions: they do (here ops.tanh(ops.matmul(...)), as torch), but not
    custom_gradient (refused by name); ops.jvp is built on the same tangent rules and the page says so."""
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    got = _penalty_gradient(lambda a: ops.tanh(ops.matmul(a, w)), x)
    want = _torch_penalty_gradient(torch, lambda t: torch.tanh(t @ torch.tensor(w)), x)
    np.testing.assert_allclose(np.asarray(got), want, rtol=1e-10, atol=1e-12)

    @ops.custom_gradient
    def exp(v):
        return ops.exp(v), (lambda upstream: upstream * ops.exp(v))

    with pytest.raises(NotImplementedError, match="custom_gradient"):
        _penalty_gradient(exp, x)
    with pytest.raises(NotImplementedError, match=r"ops\.jvp: "):
        ops.jvp(exp, (x,), (x,))
    page = " ".join((ROOT / "docs" / "ops_opsflow.md").read_text().split())
    assert "not for `glassnet.ops` functions" not in page
    assert "`jvp` is not built" not in page and re.search(r"`jvp\(fun, primals, tangents, has_aux=False\)`", page)
