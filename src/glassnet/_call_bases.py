"""Keras blocks written on a base class of one's own: ``class Block(MyBase)`` with ``call``, where
``class MyBase(gn.Layer)`` defines neither ``forward`` nor ``call`` (helper methods, a shared
``__init__``), a common shape of Keras code::

    class BaseBlock(keras.layers.Layer):
        def activation(self, x): return ops.gelu(x)
    class MLPBlock(BaseBlock):
        def __init__(self, units): super().__init__(); self.dense = layers.Dense(units)
        def call(self, x): return self.activation(self.dense(x))

glassnet draws a block (call, no forward) as a ``glassnet.Model`` subclass (glassnet._call_layers),
which a class statement decides: ``Layer`` among the class' own bases is swapped for ``CallLayer``.
A base between them cannot know, when it is defined, which of its subclasses will come; so the
first subclass that defines ``call`` decides it: the bases between that class and ``Layer``,
defining none of forward, backward and call, are drawn too (``Layer`` swapped for ``CallLayer`` in
theirs). One base cannot be both: a base whose subclass computes in ``forward`` (a layer on
arrays) and whose other subclass is drawn from ``call`` is refused by name, when the second class
statement runs, with the way out (two bases). glassnet's own layers and their subclasses
(they define ``forward``) are never touched.
"""

_OWN = ("forward", "backward", "call")


def _between(cls, layer_base):
    """The classes of ``cls``' MRO after it that are subclasses of ``layer_base`` (not it)."""
    return [base for base in cls.__mro__[1:] if base is not layer_base and isinstance(base, type)
            and issubclass(base, layer_base)]


def _glassnet_own(cls):
    return cls.__module__ == "glassnet" or cls.__module__.startswith("glassnet.")


def bases_to_draw(cls, layer_base):
    """For ``cls``, a subclass of ``layer_base`` (``glassnet.Layer``) that defines ``call`` (itself or
    through a base) and whose ``forward`` is ``layer_base``'s, without ``layer_base`` among its own
    bases: the bases between them that are to be drawn with it, or None when ``cls`` is left a layer
    (a base of glassnet's own, or one defining forward or backward). Refuses by name a base that a
    layer computing in ``forward`` subclasses already."""
    between = _between(cls, layer_base)
    if not between or any(_glassnet_own(base) or any(name in vars(base) for name in _OWN) for base in between):
        return None
    taken = [base for base in between if vars(base).get("_forward_subclasses")]
    if taken:
        base = taken[0]
        raise TypeError(
            f"{cls.__name__}: defines call and no forward, a Keras block of layers that glassnet draws as a "
            f"glassnet.Model, but its base {base.__name__} is the base of {base._forward_subclasses[0]}, a layer "
            f"computing in forward; one class cannot be both: give the blocks written with call a base of their "
            f"own (class {base.__name__}Block(gn.Layer) with the same helpers)")
    return between


def note_forward_subclass(cls, layer_base):
    """``cls``, a layer of the user's computing in ``forward``: its bases between it and
    ``layer_base`` defining neither forward nor call are now a layer's, and not to be drawn later."""
    if _glassnet_own(cls):
        return
    for base in _between(cls, layer_base):
        if not _glassnet_own(base) and not any(name in vars(base) for name in _OWN):
            if "_forward_subclasses" not in vars(base):
                base._forward_subclasses = []
            base._forward_subclasses.append(cls.__name__)


def refuse_forward_under_drawn(cls):
    """A class with ``forward`` made on a base drawn from ``call`` (a ``CallLayer``): refused by name
    (it would be a glassnet.Model whose forward nothing runs)."""
    if "forward" in vars(cls) and not _glassnet_own(cls):
        raise TypeError(
            f"{cls.__name__}: defines forward (a layer computing on arrays), but its base is drawn as a "
            f"glassnet.Model from call (a Keras block, or a base of one: a subclass of it defines call); one "
            f"class cannot be both: give {cls.__name__} a base of its own, subclassing gn.Layer")


def draw_bases(between, layer_base, call_layer, registry):
    """Make the bases ``between`` (from ``bases_to_draw``, nearest first) drawn as ``call_layer``:
    ``layer_base`` swapped for it where it is a base's own base; their ``build`` unwrapped (a drawn
    model's build draws its call), their names out of the layer ``registry`` (a drawn model is saved
    as the layers it draws), and the class hooks of a ``glassnet.Model`` run for each."""
    for base in reversed(between):      # (the one nearest Layer first: its subclasses' MROs follow)
        if layer_base in base.__bases__:
            base.__bases__ = tuple(call_layer if b is layer_base else b for b in base.__bases__)
        build = vars(base).get("build")
        if build is not None and hasattr(build, "__wrapped__"):
            base.build = build.__wrapped__
        if registry.get(base.__name__) is base:
            del registry[base.__name__]
        super(base, base).__init_subclass__()


def layers_dtype(layers, default):
    """The dtype a block without one of its own computes in: that of its ``layers`` once built (in
    a model of that dtype: a block held by a float64 model, then called on its own), else ``default``.
    Layers of several dtypes leave ``default`` (the model refuses them by name)."""
    dtypes = {layer.dtype for layer in layers if layer.built and layer.dtype is not None}
    return dtypes.pop() if len(dtypes) == 1 else default
