"""Review docs41: the README's GradientTape, default steps and wrappers sections walked as a new user."""
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
