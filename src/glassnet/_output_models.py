"""An output that a nested model's call makes, named as Keras 3.15 names it: by that model.

Keras names each output of a functional model by the operation of the node that made it
(``model.output_names``); for ``out = inner(x); Model(x, out)`` that node is the call of the
model ``inner``, so the output is ``"inner"``, and ``"inner"`` keys the dicts of losses, metrics,
targets and the logs (``inner_loss``). glassnet flattens a nested model's layers into the graph
drawn, so without this its output went by ``inner``'s last layer. Keras 3.15, compared live:

* ``Model(x, inner(x))`` (Sequential or functional ``inner``): ``["inner"]``;
* ``Model(x, [inner(x), Dense(1, name="plain")(x)])``: ``["inner", "plain"]``;
* ``Model(x, two(x))``, ``two`` a model of two outputs: ``["two", "two"]``, two outputs of one
  name, as a shared layer's two calls give (a dict by name cannot tell them apart);
* ``Model([a, b], [inner(a), inner(b)])``: ``["inner", "inner"]``;
* a model nested in a model nested here: the outermost one's name (the call made here).

A glassnet model file records these names (``"output_models"`` in the graph's config) since
the nested models themselves are not kept there; a file without them (written before) names its
outputs by their layers, as the compile config it recorded does.
"""


def output_models(outputs):
    """Per tensor of ``outputs`` (a model's, in order): the name of the nested model whose call
    made it, None for a layer's call; None when no output is a nested model's."""
    names = [None if tensor.nested_in is None else tensor.nested_in.name for tensor in outputs]
    return None if all(name is None for name in names) else names


def checked(value, count):
    """``value`` from a model file's ``"output_models"``: a list of ``count`` names or nulls."""
    if value is None:
        return None
    if (not isinstance(value, list) or len(value) != count
            or not all(name is None or isinstance(name, str) and name for name in value)):
        raise ValueError(f"config: 'output_models' must give each of the model's {count} outputs the name of the "
                         f"nested model that makes it (a non-empty string) or null, got {value!r:.120}")
    return None if all(name is None for name in value) else list(value)


def rename(model, names):
    """Name ``model``'s outputs by the nested models ``names`` (``output_models``' form) after it
    was drawn from a config, whose layers no longer tell which model made which output."""
    model._output_models = names
    for head, name in zip(model._heads or (), names or ()):
        head.label = name
