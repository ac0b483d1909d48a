"""The calls a pass does not run: those only a ``TrainingSwitch``'s unread branch needs.

A ``call`` branching on ``training`` is drawn twice, with training=True and training=False, and a
``TrainingSwitch`` gives each pass its mode's draw (glassnet._training_branch). Keras runs only the
branch of the pass's flag; running both cost a branching block twice its work (keras.io's ConvNeXt,
CCT and Swin put a stochastic depth in every block), and the training draw's ``keras.random`` draws
moved their SeedGenerator on in predict, where Keras' does not move. So a pass skips, in its mode,
the calls that only the unread input of a switch leads to (``skipped_calls``), and the walk of the
graph (glassnet.callgraph) runs the others as before: those both draws share (the block's input,
the calls before it) run once, as they always did. A skipped call's output is None; no call that
runs reads it, and the backward walk sends it no gradient (the switch gives its unread input None).

The set is derived from the graph alone (calls, their sources, their own modes), once per model
and mode (``plan``: computed at the first pass after a build, kept until the graph changes), so
a model read from a file skips as the one saved did, with no key of its own in the file, and a
model without a switch walks as before (``plan`` gives None: nothing to check per call).
"""


def _unread(layer, training):
    """The inputs a call of ``layer`` does not read in ``training``'s mode (a TrainingSwitch's
    other branch), or () for every other layer."""
    unread = getattr(layer, "unread_inputs", None)
    return () if unread is None else unread(training)


def skipped_calls(calls, inbound, modes, roots, training):
    """The indices of the calls a pass in ``training``'s mode need not run.

    ``calls``: each call's layer, in the graph's order (each after the calls it reads);
    ``inbound``: each call's sources (earlier calls' indices; negative, the model's inputs);
    ``modes``: each call's own mode (None: the pass's), or None; ``roots``: the calls whose outputs
    the pass hands out (the model's outputs, those add_loss terms read).

    A call is needed when a root reads it, through every input of the calls on the way but the
    inputs a switch does not read in its mode. The calls that lead to a switch's unread input and
    are not needed are skipped, and so is every call reading a skipped one that is not needed
    itself: the calls a branch makes reaching no output (glassnet._dead_calls) go with their branch,
    while those reading what runs (a block's call on its input going nowhere) run as before.
    Returns a frozenset (empty where nothing is skipped)."""
    unread = {}
    for k, layer in enumerate(calls):
        skipped_inputs = _unread(layer, training if modes is None or modes[k] is None else modes[k])
        if skipped_inputs:
            unread[k] = {inbound[k][j] for j in skipped_inputs} - {
                p for j, p in enumerate(inbound[k]) if j not in skipped_inputs}
    if not unread:
        return frozenset()
    needed, stack = set(), [k for k in roots if k >= 0]
    while stack:
        k = stack.pop()
        if k in needed:
            continue
        needed.add(k)
        stack.extend(p for p in inbound[k] if p >= 0 and p not in unread.get(k, ()))
    # what the unread inputs lead back to, through every input (a switch inside the unread branch
    # reads neither of its inputs there), less what the pass needs (the calls shared with its branch)
    leading, stack = set(), [p for sources in unread.values() for p in sources if p >= 0]
    while stack:
        k = stack.pop()
        if k in needed or k in leading:
            continue
        leading.add(k)
        stack.extend(p for p in inbound[k] if p >= 0)
    skipped = set()
    for k in range(len(calls)):         # (in order: each call after those it reads)
        if k not in needed and (k in leading or any(p in skipped for p in inbound[k])):
            skipped.add(k)
    return frozenset(skipped)


def roots_of(model):
    """The calls whose outputs a pass of ``model`` hands out: its output(s) (the last call; each
    output's, for a model of several) and the calls its add_loss terms read."""
    roots = {len(model._node_layers) - 1}
    if model._heads is not None:
        roots.update(head.call for head in model._heads)
    if model._loss_terms is not None:
        roots.update(model._loss_terms.read)
    return roots


def plan(model):
    """``{training: (the calls a pass in its mode skips, each call's mode)}`` for training False,
    True and None (a pass given no flag: glassnet._flagless), the calls None where none is skipped
    (``skipped_calls``), the modes the model's own where no call is marked ``TRUE_IF_UNSET``,
    else each call's resolved, for ``model``'s graph as it is now."""
    from . import _flagless as flagless
    calls, modes = model._node_layers, model._call_settings()[0]
    marked = flagless.has_unset(modes)
    modes_of = {training: flagless.resolve(modes, training) if marked else modes for training in (False, True, None)}
    if not any(getattr(layer, "unread_inputs", None) is not None for layer in calls):
        return {training: (None, modes_of[training]) for training in modes_of}
    inbound, roots = model._inbound, roots_of(model)
    return {training: (skipped_calls(calls, inbound, modes_of[training], roots, bool(training)) or None,
                       modes_of[training]) for training in modes_of}
