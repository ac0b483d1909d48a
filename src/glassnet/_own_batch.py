"""``train_on_batch`` and ``test_on_batch`` of a subclass of ``glassnet.Model`` with its own
``train_step`` (and ``test_step``), as Keras 3.15 runs them: one step on the batch given.

Keras' ``train_on_batch(x, y=None, sample_weight=None)`` resets the model's metrics, then calls
``train_step`` once with the 3-tuple ``(x, y, sample_weight)``, unpacked by nobody: y and the
weights are None when not given (checked on TensorFlow and PyTorch, eager or not), unlike fit's
packing (glassnet._step_data.keras_data). A step written for fit as ``x, y = data`` fails on it
there too; ``glassnet.utils.unpack_x_y_sample_weight(data)`` takes both forms. It returns the
step's logs: a dict with ``return_dict``, else Keras' list (own_steps.keras_order), one value
alone as a float. ``test_on_batch`` does the same with ``test_step``.

Different: float arrays come in the model's dtype, as fit's batches do (Keras hands the arrays of
train_on_batch as given, float64 included); x and y may be lists, tuples or dicts of arrays, each
leaf checked to hold as many rows as the others; ``class_weight`` is refused, as fit refuses it for
such a model (Keras turns it into sample weights).

Inside a step (``_step_data.inside_step``), ``self.train_on_batch`` and ``self.test_on_batch``
stay glassnet's compiled step on the batch: what a step of a model with its own layers calls them
for (glassnet's step on the batch; Keras' default one is ``super().train_step(data)``: glassnet.default_steps).
"""
from ._step_data import _arrays
from ._stepping import inside_step
from ._validation import check_flag
from .feeding import is_batches, kind_of
from .graph import _runs_test_step
from .own_steps import _require_steps_compiled, keras_order, step_logs


def _one_batch(model, x, y, sample_weight, call):
    """``(x, y, sample_weight)`` as the step receives them from ``call``: arrays checked (every
    leaf as many rows as the first), float ones in the model's dtype, read-only to the step."""
    if is_batches(x):
        raise TypeError(f"{call}: x is one batch of arrays; a {kind_of(x)} gives many: call "
                        f"{'fit' if call == 'train_on_batch' else 'evaluate'}")
    return _arrays(model, x, y, sample_weight, None, False, packed=False).whole()


def train_on_batch_own_step(model, x, y, sample_weight, class_weight, return_dict):
    """Keras 3's ``train_on_batch`` of ``model``: its metrics reset, ``train_step((x, y,
    sample_weight))`` once, and the step's logs (see the module docstring)."""
    name = type(model).__name__
    _require_steps_compiled(model, "train_on_batch")
    return_dict = check_flag(return_dict, "return_dict")
    if class_weight is not None:
        raise ValueError(f"class_weight: it weighs a compiled loss, and {name}.train_step computes its own; "
                         f"give sample_weight, which the step receives as data[2]")
    data = _one_batch(model, x, y, sample_weight, "train_on_batch")
    model.reset_metrics()        # Keras: the logs are this batch's alone (an override runs)
    with inside_step(model):
        logs = step_logs(model.train_step(data), f"{name}.train_step")
    return logs if return_dict else keras_order(model, logs)


def test_on_batch_own_step(model, x, y, sample_weight, return_dict):
    """Keras 3's ``test_on_batch`` of ``model``: its metrics reset, ``test_step((x, y,
    sample_weight))`` once, and the step's logs. A model with a train_step but neither test_step
    nor call (Keras' GAN, which runs Keras' default step here) is refused by name."""
    name = type(model).__name__
    if not _runs_test_step(type(model)):
        raise NotImplementedError(f"test_on_batch: {name} defines train_step but neither test_step nor call; "
                                  f"define test_step(self, data) for test_on_batch to run")
    _require_steps_compiled(model, "test_on_batch")
    return_dict = check_flag(return_dict, "return_dict")
    data = _one_batch(model, x, y, sample_weight, "test_on_batch")
    model.reset_metrics()
    with inside_step(model):
        logs = step_logs(model.test_step(data), f"{name}.test_step")
    return logs if return_dict else keras_order(model, logs)
