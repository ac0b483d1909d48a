"""Outputs given as a dict: ``Model(inputs, {"score": s, "cls": c})`` (Keras 3's functional form).

    model = gn.Model(inputs, {"score": score, "cls": cls})
    model.compile(loss={"score": "mse", "cls": "sparse_categorical_crossentropy"},
                  metrics={"cls": ["accuracy"]}, optimizer="sgd")
    model.fit(x, {"score": y_score, "cls": y_cls})
    model.predict(x)            # {"score": (n, 1), "cls": (n, 3)}

The dict's keys name the outputs everywhere a model of several outputs takes or gives names: the
keys of compile's, fit's and evaluate's dicts and of the logs ("score_loss", "cls_accuracy").
Inside, the model is one of several outputs as ``glassnet.outputs`` describes, its outputs in
Keras 3's flat order, the keys sorted (``tree.flatten`` of a dict): ``model.outputs``,
``output_names`` (the layers' names, as Keras 3.15 gives them, not the keys), ``output_shapes``
and a list given for a dict (``y=[y_cls, y_score]``) follow it. What the model gives back is a dict
again, in the order the keys were given: ``predict``, ``model(x)``, ``model.output`` and the
model called on tensors inside another functional model.

A dict of one output is a model of one output whose results come as a dict: its logs are
"loss", "mae" as a plain model's (Keras'). Nested last in a Sequential, it makes that Sequential
give and take the same dict (``Sequential._nested_dict_key``), as Keras 3.15's does. A model of
several outputs nested last makes the Sequential one of several outputs (its heads at the
Sequential's calls: ``Sequential._add_model``), giving and taking the same dicts or lists.

The keys are kept in the model's config (``"outputs": {key: call}``, in the given order), so that
``from_config``, ``load_model`` and ``clone_model`` give the same dicts back.
"""


def flat_outputs(outputs):
    """The keys of the dict ``outputs`` as given, and its tensors in Keras' flat order (sorted
    keys). Keys must be non-empty strings (they name logs and dict entries)."""
    if not outputs:
        raise ValueError("Model: outputs is an empty dict; give {name: tensor} for each output")
    for key in outputs:
        if not isinstance(key, str) or not key:
            raise TypeError(f"Model: the keys of outputs must be non-empty strings (they name the outputs' "
                            f"logs and dict entries), got {key!r:.60}")
    return list(outputs), [outputs[key] for key in sorted(outputs)]


def as_dict(keys, flat):
    """``flat`` (one value per output, in the flat order: sorted keys) as a dict in the order of
    ``keys`` (the keys as given)."""
    by_key = dict(zip(sorted(keys), flat))
    return {key: by_key[key] for key in keys}


def loss_log_order(keys, loss):
    """In which order a model of dict outputs logs its outputs' own losses ("score_loss", ...),
    as positions in the flat order: Keras 3 follows compile's ``loss`` dict when it names every
    output (its keys' order), else the outputs' dict as given."""
    flat = sorted(keys)
    order = list(loss) if isinstance(loss, dict) and set(loss) == set(keys) else keys
    return [flat.index(key) for key in order]


def check_config_outputs(outputs, calls):
    """A config's ``"outputs"`` as a dict ``{key: call index}`` checked (a file may say anything)."""
    if not outputs or not all(isinstance(key, str) and key and isinstance(k, int) and not isinstance(k, bool)
                              and 0 <= k < calls for key, k in outputs.items()):
        raise ValueError(f"config: 'outputs' as a dict must map each output's name to the call (of {calls}) "
                         f"making it, got {outputs!r:.80}")
