"""A built Sequential's symbolic tensors (Keras' ``model.inputs`` / ``model.outputs`` and each
layer's ``layer.output``), for drawing functional models from it: the Keras guide's feature
extraction with a Sequential model.

    initial = gn.Sequential([gn.Input((250, 250, 3)),
                             Conv2D(32, 5, strides=2, activation="relu"),
                             Conv2D(32, 3, activation="relu", name="my_intermediate_layer"),
                             Conv2D(32, 3, activation="relu")])
    features = gn.Model(initial.inputs, initial.get_layer("my_intermediate_layer").output)
    every = gn.Model(initial.inputs, [layer.output for layer in initial.layers])

Keras' Sequential draws itself as a functional graph when it is built (its input shape known: an
``Input`` first, a first layer's ``input_shape``, ``build`` or its first data); so does glassnet's:
each build calls the model's layers on an ``Input`` of its samples' shape (``_draw_symbolic``).
That draw computes nothing; it records, for each layer called there for the first time, the
tensors of that call (``layer.input``, ``layer.output``: layers/symbolic.py). A model drawn from
them (``gn.Model(initial.inputs, ...)``) holds the very same layers: the two share their weights,
and training either changes both.

The Input is kept from one build to the next (``add``, ``pop``) while the samples' shape stays,
as Keras keeps its InputLayer: ``layer.output`` of an earlier layer still leads back to
``model.inputs``. A layer first called somewhere else (in a functional model drawn before it
joined this one, or nested in another model before this one was built) keeps that call as its
``output``, as Keras keeps a layer's first node. One difference: Keras builds a Sequential not
built yet when it is called inside a functional model (``seq(x)``: its layers' first calls are
its own draw); glassnet's functional model builds its layers (its seed draws their weights), and
the Sequential is built on them after that (glassnet._nested_build): ``seq.inputs`` is there
then, but its layers' ``output`` are their first calls, those in the functional model.
"""
from .layers.input import InputLayer


class SequentialTensorsMixin:
    """``inputs``, ``outputs``, ``input`` and ``output`` of a built Sequential (see the module
    docstring); a functional ``Model`` keeps its own (its Inputs and the tensors it was made of)."""
    # (the Input, the output tensor, ...) of the last build's draw, one tensor per output (several when
    # the last layer is a model of several outputs); None: not drawn
    _symbolic = None
    _declared_input_layer = None    # the Input given first (Sequential([Input(...), ...])), kept as Keras keeps it

    def _draw_symbolic(self):
        """Call the model's layers, in its graph's order, on its Input: ``model.outputs`` and each
        layer's ``output`` (at its first call). Run at the end of every build.

        A call made by an earlier draw (the same layer on the same tensors, in the same mode) is
        taken again, not made anew: after ``add``, the new layer reads the very tensor that is
        the layer before it's ``output``, so ``gn.Model(model.inputs, [l.output for l in
        model.layers])`` calls each layer once (a second call would make it a shared layer)."""
        from .layers.symbolic import call_symbolic
        source = self._symbolic_source()
        modes, options = self._call_settings()
        tensors = []
        for k, (layer, parents) in enumerate(zip(self._node_layers, self._inbound)):
            given = [source if p < 0 else tensors[p] for p in parents]
            mode, option = None if modes is None else modes[k], None if options is None else options[k]
            parents_before, before = layer.__dict__.get("_first_call", ((), None))
            if (len(parents_before) == len(given) and all(a is b for a, b in zip(parents_before, given))
                    and getattr(before, "training", None) == mode and getattr(before, "options", None) == dict(option or {})):
                tensors.append(before)
                continue
            several = getattr(layer, "merges", False) or len(given) > 1
            tensors.append(call_symbolic(layer, given if several else given[0], mode, option))
        self._symbolic = (source, *[tensors[k] for k in self._output_calls])

    def __getstate__(self):
        """The model's state for pickle and ``copy.deepcopy``, with its layers' first symbolic calls
        (``layer.output``, which a layer pickled on its own leaves out: ``Layer.__getstate__``) and,
        before anything else, every symbolic tensor the model reaches, earliest first (see
        ``in_drawing_order``: a deep model's graph would otherwise be written by recursion)."""
        from .layers.symbolic import in_drawing_order
        state = dict(self.__dict__)
        first_calls = [(layer, vars(layer)["_first_call"]) for layer in state.get("layers", ())
                       if "_first_call" in vars(layer)]
        # (a functional Model's own Inputs and outputs are in its inputs and outputs)
        held = [state.get(key) for key in ("_symbolic", "inputs", "outputs") if isinstance(state.get(key), (list, tuple))]
        return {"_drawn_tensors": in_drawing_order([call for _, call in first_calls] + held),
                "_first_calls": first_calls, **state}

    @staticmethod
    def _restore_first_calls(state):
        """Give the layers of an unpickled (or copied) model's ``state`` their first symbolic calls
        back (see ``__getstate__``); a model pickled before it kept them has none to give."""
        state.pop("_drawn_tensors", None)
        for layer, call in state.pop("_first_calls", ()):
            layer.__dict__["_first_call"] = call

    def _symbolic_source(self):
        """The Input the model's layers are drawn on: the last draw's or the one given first when
        it still fits the samples, else a new one (of the declared name, if one was given). A model
        of texts starts from an Input of texts, which its first layer turns into ids."""
        texts = self._takes_text()
        # (an Input of texts is of shape (1,) or (): the one given, whichever, is kept)
        declared = self._declared_input if self._declared_input is not None else (1,)
        shape = tuple(declared) if texts else tuple(self._sample_input_shape)
        for kept in (self._symbolic[0] if self._symbolic is not None else None, self._declared_input_layer):
            if kept is not None and tuple(kept.sample_shape) == shape and (kept.dtype == "string") == texts:
                return kept
        # as Keras' Sequential built from a shape: its input takes the layers' dtype (the model's)
        return InputLayer(shape, name=self._declared_name, dtype="string" if texts else self.dtype)

    def _drawn(self, what):
        """``(Input, output tensor)``, drawn now if the model is built but has none yet (a model
        pickled before models drew themselves); AttributeError, as Keras', if it is not built."""
        if self._symbolic is None and self.built:
            self._draw_symbolic()
        if self._symbolic is None:
            raise AttributeError(
                f"Sequential {self.name!r} has no defined {what} yet: it is not built, its input shape is "
                f"unknown. Start it with gn.Input(shape) (Sequential([gn.Input((4,)), ...])), give its first layer "
                f"input_shape=..., call model.build((None, *shape)), or call it on data first")
        return self._symbolic

    @property
    def inputs(self):
        """The model's Input in a list (Keras' ``model.inputs``): what a functional ``Model`` drawn
        from this one's tensors starts from, ``gn.Model(model.inputs, layer.output)``."""
        return [self._drawn("inputs")[0]]

    @property
    def outputs(self):
        """The symbolic tensor of the model's output, in a list (Keras' ``model.outputs``): one per
        output for a last layer of several, in their flat order (a dict's: its keys sorted)."""
        return list(self._drawn("outputs")[1:])

    @property
    def input(self):
        """The model's Input (``inputs[0]``). Keras 3.15 raises here for a Sequential never called
        inside another model (its ``input`` is that of its own call as a layer); tf.keras gave this."""
        return self._drawn("input")[0]

    @property
    def output(self):
        """The symbolic tensor of the model's output (``outputs[0]``; see ``input``); for a last
        layer of several outputs, the list of them, or their dict as that layer gives it."""
        outputs = self._drawn("output")[1:]
        if self._heads is None:
            return outputs[0]
        from ._dictoutputs import as_dict
        return list(outputs) if self._output_keys is None else as_dict(self._output_keys, outputs)
