"""The layout of LayerNormalization's and RMSNormalization's weights for a list of axes, Keras 3.15's.

Keras sorts the axis list as given (``sorted([1, -2]) == [-2, 1]``, negative ones first) and shapes
the weights by it: for samples of shape (3, 4, 5) (batches (batch, 3, 4, 5)), ``axis=[1, -2]`` gives
gamma the shape ``(input[-2], input[1]) == (4, 3)``; its call then *reshapes* gamma (no transpose)
to the batch's broadcast shape (1, 3, 4, 1), in the axes' positive order. glassnet before session 48
shaped gamma (3, 4), in the positive order: the same values in memory, another shape, so Keras'
``set_weights`` and files refused ours. Now the shape is Keras', and a gamma of glassnet's older
shape in a model file is reshaped on the way in (``older_shapes``): old and new hold the same
numbers in the same (C) order, so the reshape is exact. A list already in positive order (or one
axis) has one layout in both: nothing changes for it.
"""

def weight_shape(layer, input_shape, axes):
    """The shape of ``layer``'s weights for samples of ``input_shape`` (no batch axis), ``axes``
    its normalised batch axes (sorted, positive: ``sample_axes``): Keras' order of ``layer.axis``,
    its list sorted as given. A shape other than glassnet's older one (the positive order) is
    kept in ``layer._older_shape``, which model files of before may hold (``older_shapes``)."""
    full = (None, *input_shape)
    order = sorted(layer.axis) if isinstance(layer.axis, list) else [layer.axis]
    shape = tuple(full[a] for a in order)
    older = tuple(full[a] for a in axes)
    layer.__dict__["_older_shape"] = older if older != shape else None
    return shape


def broadcast(param, x_shape, axes):
    """``param`` (of ``weight_shape``) reshaped to broadcast against a batch of shape ``x_shape``
    over ``axes`` (sorted, positive), as Keras' call reshapes it."""
    shape = [1] * len(x_shape)
    for a in axes:
        shape[a] = x_shape[a]
    return param.reshape(shape)


def summed_into(grad, x_shape, axes):
    """``grad`` (a weight's gradient array, of ``weight_shape``) as a view of the shape a sum of
    the batch over every axis but ``axes`` has, to be summed into with ``out=``."""
    shape = tuple(x_shape[a] for a in axes)
    return grad if grad.shape == shape else grad.reshape(shape)


def older_shapes(model):
    """``{id(live weight array): the shape a glassnet before session 48 gave it}`` for the
    LayerNormalization and RMSNormalization layers of ``model`` (nested models too) whose axis
    list Keras orders otherwise (``weight_shape``): what ``load_model`` reshapes from an older file."""
    found, seen = {}, set()

    def walk(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        older = vars(layer).get("_older_shape")
        if older is not None:
            for a in [*layer.params.values(), *(getattr(layer, "state", None) or {}).values()]:
                found[id(a)] = older
        for inner in getattr(layer, "layers", None) or ():
            walk(inner)
    for layer in model.layers:
        walk(layer)
    return found



def older_fits(layer, target_shape, file_shape):
    """Whether a weights file's array of ``file_shape`` is ``layer``'s weight of ``target_shape``
    in the older layout a glassnet before session 48 wrote (``weight_shape``): a ``.weights.h5`` or
    legacy ``.h5`` weights file of such a LayerNormalization/RMSNormalization, reshaped on the
    way in as ``older_shapes`` lets model files be."""
    older = vars(layer).get("_older_shape")
    return older is not None and tuple(file_shape) == older and tuple(target_shape) != older
