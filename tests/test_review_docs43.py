"""Review of today's docs (second-order tapes, Sequential subclasses' steps): what a user reads
when the docs' route is refused must send them the right way."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _critic():
    return gn.Sequential([gn.Input((3,)), gn.layers.Dense(4, activation="tanh"), gn.layers.Dense(1)],
                         seed=0, dtype="float64")


def test_persistent_tape_gradient_inside_its_block_points_to_the_nested_tapes(torch):
    """A persistent tape's gradient asked inside its own block (TF's way to a gradient of a gradient
    on one tape) is refused; the message said "higher-order gradients are not built (a nested tape's
    gradient is: GradientTape.gradient)", the very call refused, where the README builds second-order
    gradients through a nested tape. It must name that route, and the route it names must give
    torch's create_graph=True gradients."""
    model = _critic()
    x = np.random.default_rng(0).normal(size=(5, 3))
    with gn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = ops.sum(model(x))
        with pytest.raises(NotImplementedError) as refused:
            tape.gradient(y, x)
    message = str(refused.value)
    assert "higher-order gradients are not built" not in message
    assert "nested" in message and "inner.gradient(y, x)" in message
    # the route the message gives, as written there
    with gn.GradientTape() as outer:
        with gn.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(model(x))
        g = inner.gradient(y, x)
        penalty = ops.sum(ops.square(g))
    grads = outer.gradient(penalty, model.trainable_weights)
    xt = torch.tensor(x, requires_grad=True)
    weights = [torch.tensor(np.array(w), requires_grad=True) for w in model.trainable_weights]
    out = (torch.tanh(xt @ weights[0] + weights[1]) @ weights[2] + weights[3]).sum()
    gx, = torch.autograd.grad(out, xt, create_graph=True)
    expected = torch.autograd.grad((gx ** 2).sum(), weights, allow_unused=True)
    for got, want in zip(grads, expected):
        if want is None:            # the last bias: no path to the input's gradient
            assert got is None
        else:
            np.testing.assert_allclose(got, want.detach().numpy(), rtol=1e-10, atol=1e-12)
