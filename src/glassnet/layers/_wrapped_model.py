"""A model (Sequential, functional Model, or a call-block: a ``gn.Layer`` with ``call``, drawn as a
Model) held by ``TimeDistributed`` in place of one layer: ``TimeDistributed(cnn)`` runs ``cnn`` on
the ``batch * steps`` frames of a video with one set of weights, as Keras' does.

The wrapper keeps the model as it is (``td.layer`` is the model, as in Keras) and computes with
the model's own forward and backward passes (``_forward``, ``_backward``) on the reshaped arrays:
nothing of the model is drawn again. Its weights become the wrapper's, as a wrapped layer's do:
each of the model's layers reads and writes its weights through a ``params`` that looks them up in
the wrapper's under the layer's name (``"conv2d/kernel"``), so the outer model's flat buffer and
optimizer train them, its file saves them, and ``get_weights`` lists them in the model's order
(Keras' ``model.weights``: layer by layer).

Refused by name, as they would compute something else than Keras or lose something silently: a
model of several inputs or outputs, layers that keep state (BatchNormalization: Keras 3.15 runs
the model step by step, ``layer.call(inputs[i])``, so its statistics are each step's batch's and
its moving averages move once per step), activity regularizers and ``add_loss`` terms (their
penalties would not reach the outer loss), a mask made inside that reaches the model's output,
a model of another dtype than the wrapper, and a model holding a TimeDistributed of a model
(a file nests models one level deep).
"""
from .. import _seeding

MODEL_CLASSES = ("Sequential", "Model")


def is_model(value):
    from ..model import Sequential
    return isinstance(value, Sequential)


def is_model_entry(value):
    """A config's ``{"class_name": "Sequential" or "Model", "config": {...}}``."""
    return isinstance(value, dict) and value.get("class_name") in MODEL_CLASSES


def _all_layers(model):
    """The model's layers and those they wrap (a Bidirectional's readers)."""
    return [inner for layer in model.layers for inner in (layer, *layer.wrapped_layers())]


class WrappedModel:
    """The model ``TimeDistributed`` holds, and what the wrapper asks of it: its build on the
    wrapper's weights, forward and backward on frames, shapes and config. ``model``: a model, or
    its ``{"class_name", "config"}`` from a wrapper's config (made into one at build: its layers'
    weights are then made by the wrapper's ``add_weight``, which ``load_model`` caps)."""

    def __init__(self, model, owner_name="TimeDistributed"):
        self.owner_name = owner_name
        self.pending = None             # (config, layers) of a config, until build
        if is_model_entry(model):
            self.pending = self._layers_of_entry(model)
            self.model = None
            return
        self.model = model
        if model._pending:
            raise ValueError(f"{owner_name}: model {model.name!r} holds blocks not drawn yet; build it first, "
                             f"model.build((None, *frame_shape))")
        self.check(before_build=not model.built)

    # -- checks ------------------------------------------------------------------------------------
    def check(self, before_build=False):
        """Refuse, by name, what the wrapper cannot hold (see the module docstring)."""
        model, name = self.model, self.owner_name
        what = f"{name}: model {model.name!r}"
        if getattr(model, "_input_shapes", None) is not None:
            raise ValueError(f"{what} has {len(model.inputs)} inputs; {name} runs a model of one input and one "
                             f"output on every step")
        if model._heads is not None:
            raise ValueError(f"{what} has several outputs; {name} runs a model of one input and one output on "
                             f"every step")
        if model._takes_text():
            raise NotImplementedError(f"{what} reads texts; {name} of it is not supported")
        for layer in _all_layers(model):
            if isinstance(getattr(layer, "state", None), dict) or getattr(layer, "state", None):
                raise ValueError(f"{what} holds {layer.describe()}, which keeps state besides its trained weights "
                                 f"(running statistics); {name} does not carry it. Keras 3.15 runs the model on each "
                                 f"step in turn, so a BatchNormalization's statistics are each step's batch's, and "
                                 f"its moving averages move once per step")
            if layer.activity_regularizer is not None:
                raise ValueError(f"{what}: {layer.describe()} has an activity_regularizer, whose penalty would not "
                                 f"reach the outer model's loss; give the {name} layer one instead")
            if getattr(layer, "in_wrapper", False) and layer in model.layers:
                # (a Bidirectional's readers are held by that wrapper, within the model)
                raise ValueError(f"{what} holds {layer.describe()}, already held by a wrapper (another {name} of "
                                 f"this model?), whose weights it uses; give each {name} a model of its own")
            held = getattr(layer, "_model", None)
            if isinstance(held, WrappedModel):
                raise ValueError(f"{what} holds {layer.describe()}, a TimeDistributed of a model: a model file "
                                 f"nests models one level deep; wrap the inner model's layers instead")
        if getattr(model, "_loss_terms", None) is not None:
            raise ValueError(f"{what} has add_loss terms, which would not reach the outer model's loss")
        if not before_build and model._output_mask is not None:
            raise ValueError(f"{what} makes a mask that reaches its output, which would not leave the wrapper")

    # -- from a config -----------------------------------------------------------------------------
    def _layers_of_entry(self, entry):
        from ..describing import take_seed_origin
        from .base import lookup
        config, name = entry.get("config"), self.owner_name
        if not isinstance(config, dict) or not isinstance(config.get("layers"), list):
            raise ValueError(f"{name}: layer's config must be a model's config with its 'layers', got {config!r:.100}")
        from ..io import MAX_LAYERS
        if len(config["layers"]) > MAX_LAYERS:
            raise ValueError(f"{name}: the model's config lists {len(config['layers'])} layers, more than a model "
                             f"file holds ({MAX_LAYERS})")
        layers = []
        for spec in config["layers"]:
            if not (isinstance(spec, dict) and isinstance(spec.get("class_name"), str)
                    and isinstance(spec.get("config"), dict)):
                raise ValueError(f"{name}: the model's layers must be {{'class_name': str, 'config': dict}}, got "
                                 f"{spec!r:.100}")
            cls = lookup(spec["class_name"])        # a registered name only: never an import
            if cls is None:
                raise ValueError(f"{name}: unknown layer class {spec['class_name'][:100]!r} in the model's config")
            layer = cls.from_config(spec["config"])
            take_seed_origin(layer, spec)
            trainable = spec.get("trainable", True)
            if not isinstance(trainable, bool):
                raise ValueError(f"{name}: a layer's 'trainable' must be true or false, got {trainable!r:.50}")
            layer.trainable = trainable
            if isinstance(getattr(layer, "_model", None), WrappedModel):
                raise ValueError(f"{name}: the model's config holds a TimeDistributed of a model: a file nests "
                                 f"models one level deep")
            layers.append(layer)
        return config, layers

    # -- build -------------------------------------------------------------------------------------
    def build(self, owner, sample_shape):
        """Build the model for frames of ``sample_shape`` (or check a built one takes them) and make
        its weights ``owner``'s, under ``"<layer name>/"``; returns the ``(prefix, layer)`` pairs."""
        from ..model import Sequential
        from .base import shape_fits
        from .wrappers import _Prefixed
        self.owner = owner
        if self.pending is not None:
            config, layers = self.pending
            # each weight made by the wrapper's add_weight (its dtype, generator, and load_model's cap)
            for layer in layers:
                self._route_weights(owner, layer)
            try:
                self.model = Sequential._from_config_layers({**config, "dtype": owner.dtype.name}, layers)
            finally:
                for layer in layers:
                    layer.__dict__.pop("add_weight", None)
            if not self.model.built:
                self.model.build((None, *sample_shape))        # Keras' batch axis first
            self.pending = None
            self.check()
        model = self.model
        if not model.built and not any(layer.built for layer in model.layers):
            # built here: in the wrapper's dtype (the outer model's), as a wrapped layer is
            model.dtype = owner.dtype
            for layer in model.layers:
                layer.dtype = owner.dtype
        if model.dtype != owner.dtype:
            raise ValueError(f"{owner.describe()}: model {model.name!r} computes in {model.dtype}, the wrapper in "
                             f"{owner.dtype}; make them the same (the model's dtype=, or the outer model's)")
        if not model.built:
            # an unseeded model draws from the wrapper's generator (the outer model's seed), so that
            # a seeded outer model starts from the same weights every run
            if model.seed is None:
                entropy = int(owner._generator().integers(2 ** 63))
                model._entropy = entropy
                for i, layer in enumerate(model.layers):
                    if layer.seed is None and not layer.built:
                        layer.rng = _seeding.stream((entropy, (1, i)))
            model.build((None, *sample_shape))
            self.check()
        elif not shape_fits(tuple(sample_shape), model._sample_input_shape):
            raise ValueError(f"{owner.describe()}: model {model.name!r} takes frames of shape {model._sample_input_shape}, "
                             f"got steps of shape {tuple(sample_shape)}")
        pairs = [(f"{layer.name}/", layer) for layer in model.layers]
        for prefix, layer in pairs:
            if isinstance(layer.params, _Prefixed) and layer.params._owner is owner:
                continue                        # made by the wrapper's add_weight (a config's)
            for key in list(layer.params):
                owner.params[prefix + key], owner.grads[prefix + key] = layer.params[key], layer.grads[key]
                if key in layer.regularizers:
                    owner.regularizers = {**owner.regularizers, prefix + key: layer.regularizers[key]}
                if key in layer.constraints:
                    owner.constraints = {**owner.constraints, prefix + key: layer.constraints[key]}
        # the model's order (Keras' model.weights): layer by layer, each in its own order
        order = [prefix + key for prefix, layer in pairs for key in _Prefixed(owner, "params", prefix)]
        owner.params = {key: owner.params[key] for key in order}
        owner.grads = {key: owner.grads[key] for key in order}
        return pairs

    @staticmethod
    def _route_weights(owner, layer):
        from .wrappers import _Prefixed
        prefix = f"{layer.name}/"
        layer.params, layer.grads = _Prefixed(owner, "params", prefix), _Prefixed(owner, "grads", prefix)

        def add_weight(name=None, shape=None, initializer=None, regularizer=None, constraint=None, *,
                       trainable=True, dtype=None):
            if not trainable:
                raise ValueError(f"{owner.describe()}: {layer.describe()} keeps state (trainable=False weights), "
                                 f"which TimeDistributed does not carry")
            if name is None:
                name = type(layer)._free_weight_name(layer, owner.params, prefix)
            return owner.add_weight(prefix + name, shape, initializer, regularizer, constraint, dtype=dtype)
        layer.add_weight = add_weight

    # -- passes --------------------------------------------------------------------------------------
    def link(self, rng, needs_input_gradient):
        """Before a pass: the layers draw from the wrapper's generator, and make their input
        gradients when the wrapper's is wanted (all of them: cheap beside a convolution)."""
        model = self.model
        for layer in model.layers:
            layer.rng = rng
        model._mark_first_layer()
        if needs_input_gradient:
            for layer in model.layers:
                layer.needs_input_gradient = True

    def forward(self, x, training):
        return self.model._forward(x, training)

    def backward(self, grad):
        return self.model._backward(grad, False)

    # -- shapes and config ---------------------------------------------------------------------------
    def output_shape(self, sample_shape):
        model = self.model
        if model is None:
            # from a config: a functional model drawn anew (from_config, load_model, clone_model)
            # asks the wrapper its output shape before building it
            return self._pending_output_shape(sample_shape)
        if not model.built and not model.layers:
            # a block not drawn yet (drawing it here, before the outer model is made, would draw
            # its weights before that model's seed and dtype reach them)
            raise ValueError(f"{self.owner_name}: model {model.name!r} is not drawn yet, so its output shape is not "
                             f"known; build it first, model.build((None, *frame_shape)), or put the "
                             f"{self.owner_name} in a Sequential after an Input, which builds it")
        return tuple(model.compute_output_shape((None, *sample_shape))[1:])

    def _pending_output_shape(self, sample_shape):
        """The output shape of the model a config describes, before the build: its layers made
        anew from the config and drawn on frames of ``sample_shape`` without being built (no
        weights: those the build makes, through the wrapper's add_weight, are the ones
        ``load_model`` caps)."""
        from ..model import Sequential
        from .base import lookup
        from .input import InputLayer
        from .symbolic import replay
        config, _ = self.pending
        layers = [lookup(spec["class_name"]).from_config(spec["config"]) for spec in config["layers"]]
        if config.get("inbound") is None:       # a Sequential: not built without its input shape
            model = Sequential._from_config_layers({**config, "input_shape": None}, layers)
            return tuple(model.compute_output_shape((None, *sample_shape))[1:])
        from .._call_weights import link
        link(layers)
        calls = config.get("calls") or list(range(len(layers)))
        tensors = replay([layers[c] for c in calls], config["inbound"], [InputLayer(tuple(sample_shape))],
                         config.get("modes"), config.get("options"))
        return tuple(tensors[-1].shape[1:])

    def check_input_shape(self, sample_shape):
        from .base import shape_fits
        model = self.model
        if model is not None and model.built and not shape_fits(tuple(sample_shape), model._sample_input_shape):
            raise ValueError(f"{self.owner_name}: model {model.name!r} takes frames of shape {model._sample_input_shape}, "
                             f"got {tuple(sample_shape)}")

    def entry(self):
        """``{"class_name", "config"}`` for the wrapper's config: the model's, without compile settings
        (a call-block is described as the functional Model of its graph, as ``to_json`` does)."""
        if self.model is None:
            config, _ = self.pending
            return {"class_name": "Model" if config.get("inbound") is not None else "Sequential", "config": config}
        from ..graph import Model
        name = "Model" if isinstance(self.model, Model) else "Sequential"
        return {"class_name": name, "config": self.model._config(with_compile=False)}
