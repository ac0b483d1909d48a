"""A Sequential of subclass blocks not drawn yet, drawn once the shape reaching them is known.

keras.io stacks its blocks so (the MLP-Mixer, Transformer blocks)::

    blocks = keras.Sequential([MLPMixerLayer(num_patches, hidden_units, dropout_rate) for _ in range(4)])
    x = blocks(patches)                 # inside a functional model

A block is a subclass of ``glassnet.Model`` whose ``call`` uses its layers; glassnet draws that
``call`` once into a graph, which needs the shape of what it reads. Keras builds a Sequential's
layers lazily, each on the shape that reaches it; so does glassnet's for such blocks: one added
while that shape is unknown waits (``Sequential._pending``, with everything added after it), and
when the Sequential learns its input's shape (``build``, its first data, or a call on a tensor in
a functional model) each waiting block's ``call`` runs, in order, on a symbolic tensor of the
shape reaching it (``join_pending``). Its calls then join the Sequential's graph as a drawn
block's do (``Sequential._add_layers``): the same layers, listed in Keras' order for a subclass
(its attributes', the order of its weights), one summary row per block.

The block's layers are not built there: the Sequential builds them (or, called in a functional
model, that model does), so its seed and dtype fix their weights, as for any layer it holds. The
block itself stays to be drawn, as one called in a functional model does (``graph.Model``): when
used alone it draws its ``call`` on those same layers, whose weights it then shares.

That symbolic run is on a tensor of its own, not the model's: each layer's ``output`` (Keras'
first call) is then the model's own draw's, made at its build, or the functional model's.
"""
from . import _block_pop as block_pop, _dead_calls as dead_calls
from .layers.input import InputLayer

# layers.symbolic (replay, sample_shape_of) is imported where used: `import glassnet` does not load
# the graph-drawing modules (tests/test_layer_registry.py)


def undrawn_block(model):
    """Whether ``model`` is a subclass of ``glassnet.Model`` with a ``call`` not drawn yet."""
    return (getattr(type(model), "_draws_call", False) and not getattr(model, "_calls", True)
            and callable(getattr(model, "call", None)))


def waits(model):
    """Whether ``model`` (a layer or model added to a Sequential) waits for its input's shape: an
    undrawn block, or a Sequential holding one (its own ``_pending``)."""
    return undrawn_block(model) or bool(getattr(model, "_pending", ()))


def known_input(seq):
    """The sample shape of ``seq``'s input when a layer added now could be drawn on what reaches
    it (the model built, or an Input declared before its first layer), else None."""
    if seq._pending or seq._heads is not None:
        return None
    if seq.built:
        return tuple(seq._sample_input_shape)
    if not seq.layers and seq._declared_input is not None and not seq._declared_text:
        return tuple(seq._declared_input)
    return None


def _symbolic_input(seq, shape):
    """The Input the joined layers of ``seq`` are run on: of texts when its first layer reads them."""
    if seq._takes_text():
        declared = seq._declared_input if seq._declared_input is not None else (1,)
        return InputLayer(tuple(declared), dtype="string")
    return InputLayer(tuple(shape), dtype=seq.dtype.name)


def _through(seq, source):
    """The symbolic output of ``seq``'s joined layers on ``source`` (``source`` when none)."""
    if not seq.layers:
        return source
    from .layers.symbolic import replay
    modes, options = seq._call_settings()
    return replay(seq._node_layers, seq._inbound, [source], modes, options)[seq._output_calls[-1]]


def _block_terms(block, made, tensor, output, walk):
    """``(terms, made, output)``: the add_loss terms a block's draw left on its calls (``made``,
    from ``walk``, glassnet.graph._walk_back stopping at ``tensor``), ``made`` with the calls they
    read that lead to no output after it, and the call handing the block's output on (last: the
    next layer reads it). A term may read the block's input (``tensor``: the call before the
    block) or any call of the block; the Input itself changes with no weight, refused by name."""
    terms = dead_calls.carried(made, "added_losses")
    if not terms:
        return [], made, output
    # Keras' order of model.losses, as a drawn block's own (graph.Model._make_graph): the block's
    # terms first, then its sublayers' (a block called inside it recorded its terms before)
    from . import added_losses           # (blocks with terms only: not at import glassnet)
    terms = added_losses.keras_order(block, terms)
    read = [leaf.tensor for term in terms for leaf in term.leaves()]
    if any(isinstance(t, InputLayer) for t in read):
        raise ValueError(f"add: block {block.name!r} ({type(block).__name__}): an add_loss term reads the model's "
                         f"Input itself, which no weight changes; compute it from a layer's output")
    everything, _ = walk([t for t in read if t is not tensor] + [output])
    known = {id(t) for t in made}
    extra = [t for t in everything if id(t) not in known]
    if not extra:
        return terms, made, output
    # the calls made for the terms alone go after the block's (some may read its output); its
    # output is then handed on by an Identity call, last, as a Sequential reads its last call
    from .layers.utility import Identity
    handed = Identity()(output)
    handed.nested_in = output.nested_in
    return terms, made + extra + [handed], handed


def _block_graph(block, tensor):
    """``block``'s ``call`` run on ``tensor``: ``(layers, graph, record, output, terms)``, ``graph`` in
    ``Sequential._graph_block``'s form (each call's layer by its place in ``layers``, its sources:
    earlier calls or -1 for ``tensor``; each call's own mode and arguments), ``terms``: its add_loss
    terms and ``{id(tensor): call}`` of what they read (-1: ``tensor``), or None without."""
    from .graph import _walk_back
    output = block(tensor)
    if not hasattr(output, "layer") or not hasattr(output, "inputs"):       # a list or dict of tensors
        raise ValueError(f"add: block {block.name!r} ({type(block).__name__}) returns several outputs, which a "
                         f"Sequential drawing it on its input cannot hand on; draw it first, "
                         f"block.build((None, *input_shape)), or call it in a functional Model")
    made, sources = _walk_back([output], stop=[tensor])
    # its calls reaching no output join too, before its last (glassnet._dead_calls)
    made = dead_calls.joined(made, _walk_back, stop=[tensor])
    terms, made, output = _block_terms(block, made, tensor, output, lambda ts: _walk_back(ts, stop=[tensor]))
    other = [source for source in sources if source is not tensor]
    if other:
        raise ValueError(f"add: block {block.name!r} ({type(block).__name__}) reads {other[0]!r:.60} besides its "
                         f"input; a Sequential hands a block one tensor: call it in a functional Model")
    layers = list(block._nested_layers)
    for t in made:      # (the ops its terms' calls made, and the Identity handing its output on)
        if not any(layer is t.layer for layer in layers):
            layers.append(t.layer)
    place = {id(layer): k for k, layer in enumerate(layers)}
    index = {id(t): k for k, t in enumerate(made)}
    calls = [place[id(t.layer)] for t in made]
    inbound = [[-1 if parent is tensor else index[id(parent)] for parent in t.inputs] for t in made]
    modes = [t.training for t in made]
    options = [t.options or None for t in made]
    graph = (calls, inbound, None if all(m is None for m in modes) else modes,
             None if all(o is None for o in options) else options)
    record = output.nested_in           # its summary row (the models its call called, under it)
    record.called_on = ()               # (a row of this Sequential, no call in a graph)
    return layers, graph, record, output, (terms, {id(tensor): -1, **index}) if terms else None


def join_pending(seq, shape):
    """Join ``seq``'s waiting layers and blocks (``seq._pending``), in order, for input samples of
    ``shape`` (one sample's, no batch axis), without building anything. Returns a function that
    takes them out again, waiting as before (for a build that then fails). All or nothing."""
    from .model import _as_found
    pending, seq._pending = list(seq._pending), []
    count, state, nesting, terms = len(seq.layers), seq._graph_state(), seq._nesting, seq._loss_terms
    marks = seq._block_marks
    found, first_calls = {}, {}
    defer = seq.__dict__.get("_defer_build")

    def note(layers, made=False):   # as each layer is before it joins, and its first symbolic call
        for layer in layers:        # (none for one ``made`` by the run below: a block's op, say)
            found.setdefault(id(layer), _as_found(layer))
            first_calls.setdefault(id(layer), (layer, None if made else layer.__dict__.get("_first_call")))

    def undo():
        seq._unjoin([(layer, *found[id(layer)]) for layer in seq.layers[count:]])
        seq._set_graph_state(state)
        seq._nesting, seq._pending, seq._loss_terms, seq._block_marks = nesting, pending, terms, marks

    seq._defer_build = True         # built by the caller (or the functional model calling it)
    try:
        note(seq.layers)
        tensor = _through(seq, _symbolic_input(seq, shape))
        for item in pending:
            if undrawn_block(item):
                note(item._attribute_layers())
                layers, graph, record, output, terms = _block_graph(item, tensor)
                note(layers, made=True)        # (layers its call or its own build made)
                offset, start = len(seq._node_layers), len(seq.layers)
                before = seq._graph_state(), seq._loss_terms
                seq._add_layers(layers, graph)
                if terms is not None:           # its add_loss terms: on the Sequential's calls
                    from .added_losses import joined
                    seq._loss_terms = joined(seq._loss_terms, terms[0],
                                             {key: offset + k for key, k in terms[1].items()})
                seq._nesting = [*seq._nesting, record]
                block_pop.note(seq, item, record, start, *before)        # pop takes it out whole
                tensor = output
            else:
                if getattr(item, "_pending", ()):        # a Sequential of blocks: drawn on what reaches it
                    from .layers.symbolic import sample_shape_of
                    join_pending(item, sample_shape_of(tensor))
                note(getattr(item, "layers", [item]))
                seq.add(item)
                tensor = _through(seq, _symbolic_input(seq, shape)) if seq._heads is None else None
    except BaseException:
        undo()
        raise
    finally:
        if defer is None:
            seq.__dict__.pop("_defer_build", None)
        else:
            seq._defer_build = defer
        # the run above was on an Input of its own: the layers' first calls are made where they run
        for layer in seq.layers:
            first_calls.setdefault(id(layer), (layer, None))
        for layer, first in first_calls.values():
            if first is None:
                layer.__dict__.pop("_first_call", None)
            else:
                layer._first_call = first
    return undo
