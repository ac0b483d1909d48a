"""Keras 3.15's layer attributes about state and dtypes, on every glassnet layer (``Layer`` inherits
them through ``KerasSurface``): ``variables``, ``trainable_variables``, ``non_trainable_variables``,
``path``, ``compute_dtype``, ``variable_dtype``, ``input_dtype``, ``compute_mask``,
``compute_output_spec``, ``get_build_config``/``build_from_config``,
``save_own_variables``/``load_own_variables`` and ``losses``.

Weights here are NumPy arrays, not Variable objects: the ``*_variables`` lists hold the same live
arrays as the ``*_weights`` lists (Keras: the same Variables), plus the ``state`` array of each
``glassnet.random.SeedGenerator`` the layer holds as an attribute (Keras' ``variables`` lists a
SeedGenerator's state too). Dropout, its spatial and alpha kinds and the noise layers hold one as
Keras' do (``seed_record``), so that their ``variables`` and a model's state tree list Keras'
``seed_generator_state``; their draws come from the layer's NumPy ``Generator`` (``rng``), so that
state records the seed (``[seed, 0]``, ``[0, 0]`` for a layer made without one) and does not move.

All are properties or methods read on demand: nothing here runs in a training step.
"""
import contextlib

import numpy as np


def variable_entries(layer):
    """``[(owner, name, live array)]`` of Keras' ``layer.variables``, in its order: the layer's own
    weights, the states of the SeedGenerators it holds (name None for a seed state: its path is
    its SeedGenerator's, ``"seed_generator_1/..."``), then each layer it wraps in turn (a
    Bidirectional's forward LSTM, a TimeDistributed's layer, RandAugment's operations): its
    weights (the wrapper's, under its prefix: Keras' order, ``_weight_items``), then its seed
    states (and, for a weightless one, those of the layers it wraps)."""
    from ..variables import weight_owner
    inner = layer._inner_layers() if hasattr(layer, "_inner_layers") else ()
    own, by_holder = [], {}
    for key, value in layer._weight_items():
        owner, name = weight_owner(layer, key)
        # the wrapped layer the weight is of: weight_owner's, or by the wrapper's prefix (Bidirectional's
        # "forward_kernel")
        holder = owner if owner is not layer else next(
            (sub for prefix, sub in inner if key.startswith(prefix) and key[len(prefix):] in sub.params), layer)
        (own if holder is layer else by_holder.setdefault(id(holder), (holder, []))[1]).append((owner, name, value))
    entries = own + _seed_entries(layer)
    for _, sub in inner:
        if id(sub) in by_holder:
            entries += by_holder.pop(id(sub))[1] + _seed_entries(sub)
        else:       # a weightless wrapped layer (an image layer in a Pipeline): its seed states, and its own members'
            entries += [entry for entry in variable_entries(sub) if entry[1] is None]
    for holder, items in by_holder.values():        # (a weight of a layer not among the wrapped ones: none known)
        entries += items + _seed_entries(holder)
    return entries


def _seed_entries(layer):
    """``(generator, None, state)`` of each SeedGenerator ``layer`` holds, in the order set."""
    from ..random import SeedGenerator
    return [(g, None, g.state) for g in vars(layer).values() if isinstance(g, SeedGenerator)]


def seed_record(layer, seed=None):
    """A ``SeedGenerator`` of ``seed`` (``layer``'s seed when None; 0 without one), made where
    Keras' random layers make theirs (in ``__init__``, numbered in the order made:
    ``seed_generator_1``), to list its state as Keras does (module docstring). No draw reads it;
    none is drawn to make it (a seed drawn here would move ``set_random_seed``'s stream, and every
    seeded result after it). None while a wrapper makes its members (``members_unrecorded``)."""
    from ..random import SeedGenerator
    if _UNRECORDED:
        return None
    seed = layer.seed if seed is None else seed
    return SeedGenerator(seed if seed is not None else 0)


# a wrapper making its members (RandAugment's eleven per pick): their seed_record is None then, and
# the wrapper gives the ones Keras' holds (one set, its seed) records of its own (record_member_seeds)
_UNRECORDED = []


@contextlib.contextmanager
def members_unrecorded():
    """Within it, ``seed_record`` makes no SeedGenerator (and takes no name): for a wrapper that
    makes more members than Keras' (a set of operations per pick) or makes them before itself."""
    _UNRECORDED.append(True)
    try:
        yield
    finally:
        _UNRECORDED.pop()


def record_member_seeds(members, seed):
    """Give each of ``members`` that Keras makes with a seed (``keras_seeded``: not AutoContrast or
    Equalization) a record of the wrapper's ``seed``, in turn (Keras' wrappers hand theirs on)."""
    for member in members:
        if getattr(member, "keras_seeded", False):
            member.seed_generator = seed_record(member, seed)


def _batch_shape(sample):
    """``(None, *sample)``: Keras' form of the shape a layer was built for."""
    return (None, *sample)


class DTypeNames:
    """Keras' dtype names of a layer or a model, from its ``dtype_policy``."""

    @property
    def compute_dtype(self):
        """The dtype it computes in, a name (``"float32"``): its ``dtype_policy``'s."""
        return self.dtype_policy.compute_dtype

    @property
    def variable_dtype(self):
        """The dtype of its weights, a name: its ``dtype_policy``'s (the same as ``compute_dtype``:
        glassnet has no mixed precision)."""
        return self.dtype_policy.variable_dtype

    @property
    def input_dtype(self):
        """The dtype inputs are cast to, a name: ``compute_dtype``, as Keras'."""
        return self.compute_dtype


class KerasState(DTypeNames):

    @property
    def variables(self):
        """Keras' ``layer.variables``: ``weights`` (live arrays, Keras' order), then the state of each
        ``SeedGenerator`` the layer holds (``[seed, counter]``, uint32)."""
        return [value for _, _, value in variable_entries(self)]

    @property
    def trainable_variables(self):
        """Keras' ``layer.trainable_variables``: ``trainable_weights`` (``[]`` for a frozen layer)."""
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        """Keras' ``layer.non_trainable_variables``: ``non_trainable_weights`` and the SeedGenerators'
        states (a frozen layer: every variable)."""
        trained = {id(value) for value in self.trainable_weights}
        return [value for value in self.variables if id(value) not in trained]

    @property
    def path(self):
        """Keras' ``layer.path``: the names of the scopes and models it was built in, then its own
        (``"sequential/dense"``; ``"dense"`` in a functional model or built alone), what its
        weights' Keras paths start with. None before it is built, and for the weightless layers
        Keras builds when they are made (Dropout, ReLU, pooling: ``built_when_made``), as Keras'."""
        if not self.built or self.built_when_made:
            return None
        from ..variables import layer_path
        return "/".join(layer_path(self))

    def compute_mask(self, inputs, mask=None):
        """Keras' default ``compute_mask(inputs, previous_mask)``: the mask given, unchanged. Keras
        (and a glassnet model) uses it only where ``supports_masking`` is True; Embedding and
        Masking make masks of their own (their ``compute_mask``)."""
        return mask

    def compute_output_spec(self, *args, **kwargs):
        """Keras' ``compute_output_spec(inputs)``: a ``KerasTensor`` of the output's shape (batch axis
        first) and the layer's compute dtype, for an input given as anything with a ``shape``
        (a KerasTensor, ``gn.Input``, an array). Nothing is called or drawn; several inputs as a
        list (a merge's). A recurrent layer with ``return_state=True`` gives a list of them."""
        if kwargs or len(args) != 1:
            raise TypeError(f"{self.describe()}: compute_output_spec: expected one argument (the input, or a list "
                            f"of inputs for a layer of several), got {len(args)} and keywords {sorted(kwargs)}")
        inputs = args[0]
        several = isinstance(inputs, (list, tuple))
        if not (all(hasattr(x, "shape") for x in inputs) if several else hasattr(inputs, "shape")):
            raise TypeError(f"{self.describe()}: compute_output_spec: expected a KerasTensor (anything with a shape, "
                            f"batch axis first), got {type(inputs).__name__}")
        shapes = [tuple(x.shape) for x in inputs] if several else tuple(inputs.shape)
        out = self.compute_output_shape(shapes)
        from ..keras_tensor import KerasTensor
        if isinstance(out, tuple) and out and isinstance(out[0], tuple):        # (output, *states)
            return [KerasTensor(shape, dtype=self.compute_dtype) for shape in out]
        return KerasTensor(out, dtype=self.compute_dtype)

    def get_build_config(self):
        """Keras' ``get_build_config()``: ``{"input_shape": (None, *sample)}`` for the input the layer
        was built for (a list of shapes for a layer of several inputs); None before its build, and
        for the weightless layers Keras builds when made (Dropout, ReLU: as Keras')."""
        shape = self.input_shape
        if not self.built or self.built_when_made or shape is None:
            return None
        if getattr(self, "merges", False) and shape and isinstance(shape[0], (tuple, list)):
            return {"input_shape": [_batch_shape(s) for s in shape]}
        return {"input_shape": _batch_shape(shape)}

    def build_from_config(self, config):
        """Keras' ``build_from_config(config)``: ``build(config["input_shape"])`` (Keras' form, batch
        axis first); nothing for an empty config or None."""
        if not config:
            return
        if not isinstance(config, dict) or "input_shape" not in config:
            raise ValueError(f"{self.describe()}: build_from_config: expected get_build_config's dict "
                             f"{{'input_shape': (None, ...)}}, got {config!r:.80}")
        shape = config["input_shape"]
        several = isinstance(shape, (list, tuple)) and shape and isinstance(shape[0], (list, tuple))
        shapes = list(shape) if several else [shape]
        for one in shapes:
            if not isinstance(one, (list, tuple)) or len(one) < 2:
                raise ValueError(f"{self.describe()}: build_from_config: input_shape: expected Keras' form with the "
                                 f"batch axis first, (None, ...), got {one!r:.80}")
        if not self.built:      # (the batch axis off: glassnet's build takes one sample's shape)
            self.build([tuple(s[1:]) for s in shapes] if several else tuple(shape[1:]))

    def save_own_variables(self, store):
        """Keras' ``save_own_variables(store)``: each weight, a copy, into the dict ``store`` under
        ``"0"``, ``"1"``, ... in ``weights``' order (Keras': the trained, then the others)."""
        for k, value in enumerate(self.get_weights()):
            store[str(k)] = value

    def load_own_variables(self, store):
        """Keras' ``load_own_variables(store)``: the weights from ``store["0"]``, ``store["1"]``, ...
        (as ``save_own_variables`` writes them), written in place; a store of another count, or
        an array of another shape, is refused before anything is written."""
        count = len(self.weights)
        keys = sorted(store.keys(), key=str)
        if set(map(str, keys)) != {str(k) for k in range(count)}:
            unbuilt = " (the layer is not built: build it first, or build_from_config)" if not self.built else ""
            raise ValueError(f"{self.describe()}: load_own_variables: expected {count} variables under the keys "
                             f"{[str(k) for k in range(count)][:10]}, the store holds {len(keys)}: "
                             f"{[str(k) for k in keys][:10]}{unbuilt}")
        self.set_weights([np.asarray(store[str(k)]) for k in range(count)])

    @property
    def losses(self):
        """Keras' ``layer.losses``: here the penalties of the layer's weight regularizers on its
        trainable weights (``kernel_regularizer``: one 0-d array each, in ``params``' order; none
        for a frozen layer, as Keras'). The activity regularizer's penalty and ``add_loss`` terms
        are computed by the model holding the layer: they are in ``model.losses``."""
        if not self.trainable:
            return []
        return [np.asarray(self.regularizers[key](value), dtype=value.dtype)
                for key, value in self.params.items() if key in self.regularizers]
