"""Keras' list forms for a model of one input and one output (a ``Sequential``, or a functional
``Model`` of one Input and one output): ``[x]`` for ``x``, ``[y]`` for ``y``, ``[w]`` for
``sample_weight``, ``{input name: x}`` for ``x``, ``{output key: y}`` and ``{output key: w}``
where Keras takes them (``by_output_name``), and at compile ``[loss]``, ``{name: loss}``,
``[[metrics]]``, ``{name: [metrics]}``, ``loss_weights`` as ``w``, ``[w]`` or ``{name: w}``.

A list is data too: ``[[0.1, 0.2, 0.3]]`` is one sample of three features, and a list of arrays
each shaped as one sample is a list of rows. Only a list whose items are arrays shaped as a batch
of samples (``ndim`` one more than a sample's) is read as the list of the model's inputs, which
for one input must hold one array; Keras 3.15 quietly takes the first of a longer list, glassnet
refuses it by name.
"""
import math
import numbers

from .layers.base import shape_fits


def by_input_name(x, name, input_name):
    """``x`` as Keras' dict of the one input's array by the input's name, unwrapped:
    ``(x[input_name], "x['input_name']")``; anything else ``(x, name)`` as given. Other keys beside
    the input's are left alone, as Keras 3 leaves them (``dict(df)`` of a table with more columns);
    a dict without the input's name is refused by name."""
    if not isinstance(x, dict):
        return x, name
    if input_name in x:
        return x[input_name], f"{name}[{input_name!r}]"
    raise ValueError(f"{name}: a dict by input name takes the model's one input, {input_name!r}; got the keys "
                     f"{sorted(map(str, x))!r:.200}; give {{{input_name!r}: array}} or the array itself (an Input "
                     f"is named by Input(shape, name=...))")


def by_output_name(y, name, key, output, what="targets"):
    """``y`` as Keras' dict of the one output's array by its key, unwrapped: ``(y[key],
    "y['key']")``; anything else ``(y, name)`` as given (``what``: "targets" or "weights", for
    ``sample_weight``, whose ``{key: None}`` is None, no weights).

    ``key``: the name a dict takes, where Keras 3.15 takes one: the key of a nested functional
    Model's dict output when that model is a Sequential's last layer (``Model(inputs, {"s": o})``),
    or a functional Model's one output (graph.Model). None: Keras 3.15 takes no dict here (a
    Sequential of plain layers fails on ``{name: y}``, converting the dict's keys to numbers), so a
    dict is refused, naming ``output`` (the output layer's name) and the forms it takes."""
    if not isinstance(y, dict):
        return y, name
    keys = sorted(map(str, y))
    if key is None:
        raise ValueError(f"{name}: a dict of {what} by output name is Keras' form for outputs given as a dict "
                         f"(gn.Model(inputs, {{'name': tensor}}), or a Sequential whose last layer is such a model); "
                         f"this model's one output{f' ({output!r})' if output else ''} takes its {what} themselves, or "
                         f"a list of them alone (Keras 3.15 fails on the dict here too); got the keys {keys!r:.200}")
    if list(y) != [key]:
        raise ValueError(f"{name}: a dict of {what} by output name takes the model's one output, {key!r}; got the "
                         f"keys {keys!r:.200}")
    return y[key], f"{name}[{key!r}]"


def _shapes(arrays):
    """The shapes of a list of arrays for a message: the first four, then "..."."""
    return ", ".join(str(tuple(a.shape)) for a in arrays[:4]) + (", ..." if len(arrays) > 4 else "")


def _is_array(item):
    """An array-like of at least one axis (NumPy, CuPy, pandas, ...), not a Python list."""
    return not isinstance(item, (list, tuple, dict, str, bytes)) and getattr(item, "ndim", 0) >= 1


def one_input(x, name, rank, text=False):
    """``x`` as Keras' list of the one input's array, unwrapped: ``(array, "x[0]")``; anything
    else ``(x, name)`` as given. ``rank``: the axes of one sample (``len(model._sample_input_shape)``), None
    before the model is built (then only a list of one array of two axes or more is the form). ``text``: the model reads texts
    (one per sample: a list of several arrays of shape (1,) is the rows of an (n, 1) column, any other
    list of arrays the list form). A list of several batches is refused: the model has one input."""
    if not isinstance(x, (list, tuple)) or not x or not all(_is_array(a) for a in x):
        return x, name
    if not text and rank is not None and not all(a.ndim == rank + 1 for a in x):
        # rows, one sample each, stacked as before; a lone array of another rank is unwrapped so
        # that the shape check names x[0] and its own shape
        return (x[0], f"{name}[0]") if len(x) == 1 and x[0].ndim != rank else (x, name)
    if not text and rank is None and (len(x) > 1 or x[0].ndim < 2):
        # no sample shape yet to tell a batch from a sample: several arrays are samples, stacked
        # as before (a list of images); one array of two axes or more is Keras' [x]
        return x, name
    if text and len(x) > 1 and all(tuple(a.shape) == (1,) for a in x):
        # one text (or value) per sample, as list(texts[:, None]) gives them: stacked as before
        return x, name
    if len(x) == 1:
        return x[0], f"{name}[0]"
    raise ValueError(f"{name}: the model has one input; got a {type(x).__name__} of {len(x)} arrays ({_shapes(x)}), "
                     f"Keras' form for {len(x)} inputs: give the array itself or a list of it alone, [x] (several "
                     f"inputs need a functional gn.Model; samples given one array each: stack them, np.stack(x))")


def one_output(y, name, samples, output, what="targets", sample_shapes=()):
    """``y`` as Keras' list of the one output's array (targets, or ``sample_weight``: ``what``),
    unwrapped: ``(array, "y[0]")``; anything else as given. ``samples``: x's number of samples.
    A list of as many arrays as x has samples is a list of rows (one array per sample), data as
    before, unless it is one array of that one sample (a first axis of 1) and not shaped as one
    sample's targets (``sample_shapes``: the shapes those may have; an output of samples (1, 2)
    takes one sample's targets of shape (1, 2)); a list of any other length cannot be rows,
    so it is Keras' form: one array is unwrapped (a wrong count of samples is then named as
    ``y[0]``'s), several are refused (``output``: the output's name). ``[None]`` is None."""
    if isinstance(y, (list, tuple)) and len(y) == 1 and y[0] is None:
        return None, f"{name}[0]"
    if not isinstance(y, (list, tuple)) or not y or not all(_is_array(a) for a in y):
        return y, name
    if len(y) == samples and not (samples == 1 and y[0].shape[0] == 1
                                  and not any(shape_fits(tuple(y[0].shape), shape) for shape in sample_shapes)):
        return y, name
    if len(y) == 1:
        return y[0], f"{name}[0]"
    raise ValueError(f"{name}: the model has one output ({output!r}); got a {type(y).__name__} of {len(y)} arrays "
                     f"({_shapes(y)}), Keras' form for {len(y)} outputs: give the {what} themselves, or a list of "
                     f"one array")


def compile_forms(loss, metrics, weighted_metrics, output):
    """compile's ``loss``, ``metrics`` and ``weighted_metrics`` given in Keras' per-output forms
    for a model of one output named ``output`` (None: no layers yet), as the values themselves:
    ``[loss]`` and ``{output: loss}`` as ``loss``; ``[[metrics]]`` and ``{output: metrics}`` as
    ``[metrics]``. Lists of another length and dicts of other names are refused by name."""
    return (_one_loss(loss, output), _one_metric_list(metrics, output, "metrics"),
            _one_metric_list(weighted_metrics, output, "weighted_metrics"))


def one_loss_weight(loss_weights, output):
    """compile's ``loss_weights`` for a model of one output named ``output``: Keras' number, list
    of one number or ``{output: number}``, as a float (None: 1.0). The loss trained on, logged and
    evaluated is the output's loss times it (the metrics are not weighed, nor the regularizers'
    penalties: Keras'). Refused: another length, another name, a number that is not finite and
    >= 0 (Keras takes a negative one, which trains towards a larger loss)."""
    if loss_weights is None:
        return 1.0
    given = loss_weights
    if isinstance(given, dict):
        given = _by_name(given, output, "loss_weights")
    elif isinstance(given, (list, tuple)):
        if len(given) != 1:
            raise ValueError(f"loss_weights: the model has one output{f' ({output!r})' if output else ''}; got a "
                             f"{type(given).__name__} of {len(given)} weights; give one number, or a list of it alone")
        given = given[0]
    if isinstance(given, (bool, str)) or not isinstance(given, numbers.Real):
        raise TypeError(f"loss_weights: expected a number (or a list of one, or a dict by output name), got "
                        f"{loss_weights!r:.80}")
    if not math.isfinite(given) or given < 0:
        raise ValueError(f"loss_weights: the weight of the loss must be a finite number >= 0, got {given!r:.80}")
    return float(given)


def _by_name(value, output, what):
    if output is None:
        raise ValueError(f"{what}: a dict by output name, but the model has no layers yet to name its output; "
                         f"add them first, or give the value itself")
    if list(value) != [output]:
        raise ValueError(f"{what}: a dict by output name takes the model's one output, {output!r}; got the "
                         f"keys {sorted(map(str, value))!r:.200}")
    return value[output]


# the keys of one serialized object (Keras' serialize(), glassnet's {"name": ...} config), which
# a dict by output name does not hold unless an output is so named
_OBJECT_KEYS = {"class_name", "config", "module", "registered_name", "name"}


def _one_loss(loss, output):
    if isinstance(loss, dict) and not (output in loss and len(loss) == 1) and _OBJECT_KEYS & set(loss):
        return loss             # one loss as a config (Keras' serialize() of a loss or its function)
    if isinstance(loss, dict):
        return _by_name(loss, output, "loss")
    if isinstance(loss, (list, tuple)):
        if len(loss) != 1:
            raise ValueError(f"loss: the model has one output{f' ({output!r})' if output else ''}; got a "
                             f"{type(loss).__name__} of {len(loss)} losses; give one loss, or a list of it alone")
        return loss[0]
    return loss


def _one_metric_list(metrics, output, what):
    if isinstance(metrics, dict) and not metrics:
        return None             # {}: no output given metrics (Keras compiles it so; a model of several takes it too)
    if isinstance(metrics, dict):
        given = _by_name(metrics, output, what)
        return None if given is None else list(given) if isinstance(given, (list, tuple)) else [given]
    nested = [m for m in metrics if isinstance(m, (list, tuple))] if isinstance(metrics, (list, tuple)) else []
    if not nested:
        return metrics
    if len(metrics) != 1:
        raise ValueError(f"{what}: the model has one output{f' ({output!r})' if output else ''}; got a list of "
                         f"{len(metrics)} items holding {len(nested)} list(s), Keras' form of one list of metrics "
                         f"per output: give one list such as ['mae'], or a list of it alone, [['mae']]")
    return list(metrics[0])
