"""Inputs given as a dict: ``Model({"a": ia, "b": ib}, outputs)`` (Keras 3's functional form).

    ia, ib = gn.Input((3,), name="in_a"), gn.Input((2,), name="in_b")
    model = gn.Model(inputs={"a": ia, "b": ib}, outputs=out)
    model.fit({"a": xa, "b": xb}, y)
    model.predict({"a": xa, "b": xb})
    model.input                 # {"a": ia, "b": ib}

The dict's keys, not the Inputs' names, are what the dicts of data are keyed by (Keras 3.15:
``{"in_a": xa, "in_b": xb}`` is refused, "Missing data for input 'a'"); keys beyond them are left
alone. Inside, the model is one of several inputs, in Keras 3's flat order, the keys sorted
(``tree.flatten`` of a dict): ``model.inputs``, ``input_shapes`` and a list given for the dict
(``[xa, xb]``) follow it, whatever order the dict was given in. ``model.input`` gives the dict
back, in the order given; a model of dict inputs called on tensors inside another functional
model takes a dict of them, by the same keys (or a list in the flat order).

The keys are kept in the model's config (``"input_keys"``, in the given order; ``"inputs"`` lists
the Inputs in the flat order), so that ``from_config``, ``load_model`` and ``clone_model`` give a
model keyed the same way.
"""
from .layers.input import InputLayer
from .layers.symbolic import not_an_input


def flat_inputs(inputs):
    """The keys of the dict ``inputs`` as given, and its Inputs in Keras' flat order (sorted keys).
    Keys must be non-empty strings (they key the dicts of data), the values Inputs."""
    if not inputs:
        raise ValueError("Model: inputs is an empty dict; give {name: Input(shape)} for each input")
    for key, given in inputs.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"Model: the keys of inputs must be non-empty strings (they key the dicts fit and "
                            f"predict take), got {key!r:.60}")
        if not isinstance(given, InputLayer):
            raise not_an_input(f"inputs[{key!r}]", given)
        # (named by its keys: the flat order's index, "inputs[1]", is not what the user wrote)
        twice = next((other for other in inputs if inputs[other] is given and other != key), None)
        if twice is not None:
            raise ValueError(f"Model: inputs[{key!r}] and inputs[{twice!r}] are the same Input; give each key an "
                             f"Input of its own")
    return list(inputs), [inputs[key] for key in sorted(inputs)]


def check_config_keys(keys, count):
    """A config's ``"input_keys"`` checked (a file may say anything): distinct non-empty strings,
    one per Input of its ``"inputs"``."""
    if (not isinstance(keys, list) or len(keys) != count or len(set(map(str, keys))) != count
            or not all(isinstance(key, str) and key for key in keys)):
        raise ValueError(f"config: 'input_keys' must list {count} distinct non-empty strings, one per Input (the "
                         f"keys of the dict the model was made with), got {keys!r:.80}")
