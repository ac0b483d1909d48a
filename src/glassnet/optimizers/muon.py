"""Muon (momentum orthogonalised by Newton-Schulz), Keras 3's ``Muon`` step for step, with its AdamW
fallback for the weights Muon is not meant for."""
import math
import re

import numpy as np

from .. import backend
from .._validation import check_non_negative_int
from .base import Optimizer, check_patterns, check_search_cost, check_searched_name, keras_apply_form, search_cost


class Muon(Optimizer):
    """Muon (Jordan et al. 2024; Liu et al. 2025, "Muon is scalable for LLM training"), as Keras 3's
    ``Muon`` computes it. Each weight takes one of two steps, by Keras' rules:

    - AdamW, for every weight that is not a matrix (2-D: a bias, a convolution's 4-D kernel, a
      normalisation's scale), for a weight whose name holds ``"embedding"`` (any case) when
      ``exclude_embeddings`` is on, and for a weight whose name one of the regular expressions
      ``exclude_layers`` finds (``re.search``). The name is glassnet's ``"layer/weight"``
      (``"dense_2/kernel"``); Keras searches the variable's path, which starts with the model's
      name (``"sequential/dense_2/kernel"``): a pattern anchored at ``^`` differs. Typically the
      output layer goes here: ``exclude_layers=["output"]`` for a layer named ``"output"``.
    - Muon, for the other matrices W (a ``Dense`` kernel): with momentum ``mu``,
      ``m = m + (g + (mu - 1) m)``; ``u = g + mu m`` (``nesterov``) or ``m``; ``O`` = ``ns_steps``
      Newton-Schulz iterations on u / ||u||_F (``X = a X + (b A + c A A) X`` with ``A = X X^T``,
      on the transposed matrix when it has more rows than columns), which is nearly the orthogonal
      factor of u; ``W -= lr O sqrt(max(rows, cols)) rms_rate`` (``rms_rate=None``: no scaling).

    The AdamW step is Keras': ``m += (g - m)(1 - adam_beta_1)``, ``v += (g^2 - v)(1 - adam_beta_2)``,
    ``W -= m lr' sqrt(1 - b2^t) / (1 - b1^t) / (sqrt(v) + epsilon)`` with ``lr' = learning_rate *
    adam_lr_ratio``. Before either step, decoupled weight decay: ``W -= W * wd * learning_rate``,
    ``wd`` being ``weight_decay`` for Muon's weights and ``adam_weight_decay`` for AdamW's (None: no
    decay), except weights ``exclude_from_weight_decay`` names. Defaults are Keras'.

    State: ``momentum`` for every weight and ``velocity`` (Adam's v) laid out like the weights; a
    matrix on Muon's path leaves its part of ``velocity`` at 0 (Keras keeps none for it). A model
    hands its optimizer one flat buffer with each weight's name and shape; one array given to
    ``apply`` alone is one weight named by its key. PyTorch has no Muon; its tests compare with
    Keras 3.15 and this formula.

    >>> opt = Muon(learning_rate=0.02, exclude_layers=["output"])
    """
    name = "muon"
    slot_names = always_slots = ("momentum", "velocity")
    non_negative_slots = ("velocity",)
    hyper_parameters = {**Optimizer.hyper_parameters, "adam_beta_1": "[0, 1)", "adam_beta_2": "[0, 1)",
                        "adam_weight_decay": "None or >= 0", "epsilon": "> 0", "muon_a": "finite",
                        "muon_b": "finite", "muon_c": "finite", "adam_lr_ratio": ">= 0", "momentum": "[0, 1)",
                        "nesterov": "flag", "exclude_embeddings": "flag", "rms_rate": "None or > 0"}
    _layouts = None         # key -> [(start, shape, muon?, name)] of the weights laid end to end under it
    _found = {}             # (names, shapes, settings) -> that list, for the layouts seen

    def __init__(self, learning_rate=0.001, adam_beta_1=0.9, adam_beta_2=0.999, adam_weight_decay=0.004,
                 epsilon=1e-7, weight_decay=0.004, exclude_layers=None, exclude_embeddings=True,
                 muon_a=3.4445, muon_b=-4.7750, muon_c=2.0315, adam_lr_ratio=1.0, momentum=0.95, ns_steps=5,
                 nesterov=True, rms_rate=0.2, **options):
        super().__init__(learning_rate, weight_decay=weight_decay, **options)
        self.adam_beta_1 = adam_beta_1
        self.adam_beta_2 = adam_beta_2
        self.adam_weight_decay = adam_weight_decay
        self.epsilon = epsilon
        self.exclude_layers = exclude_layers
        self.exclude_embeddings = exclude_embeddings
        self.muon_a, self.muon_b, self.muon_c = muon_a, muon_b, muon_c
        self.adam_lr_ratio = adam_lr_ratio
        self.momentum = momentum
        self.ns_steps = ns_steps
        self.nesterov = nesterov
        self.rms_rate = rms_rate

    def __setattr__(self, name, value):
        if name == "ns_steps":
            value = check_non_negative_int(value, "Muon: ns_steps")
        elif name == "exclude_layers":
            # (a list, as the config gives it back)
            value = list(check_patterns(value, "Muon: exclude_layers", ' (regular expressions searched in each '
                                                                       'weight\'s name, "dense_1/kernel")'))
        super().__setattr__(name, value)

    def check_search_cost(self, names):
        super().check_search_cost(names)
        if self.exclude_layers:
            check_search_cost(search_cost(self.exclude_layers, names), self.exclude_layers, "Muon: exclude_layers")

    def uses_adamw(self, name, shape):
        """Whether the weight ``name`` (``"dense_1/kernel"``) of ``shape`` takes the AdamW step
        (Keras' ``_should_use_adamw``): not 2-D, an embedding, or named by ``exclude_layers``."""
        if len(shape) != 2:
            return True
        if self.exclude_embeddings and "embedding" in name.lower():
            return True
        if self.exclude_layers:
            check_searched_name(name, "Muon: exclude_layers")
        return any(re.search(pattern, name) for pattern in self.exclude_layers)

    def apply(self, triples, sizes=None, names=None, shapes=None):
        if keras_apply_form(triples, sizes):     # Keras 3's apply(grads, trainable_variables)
            return self._keras_apply(triples, sizes)
        triples = list(triples)
        layouts = {}
        for i, (key, param, _) in enumerate(triples):
            each_shape = [tuple(param.shape)] if shapes is None else [tuple(s) for s in shapes[i]]
            if shapes is None and sizes is not None and len(sizes[i]) > 1:     # weights of unknown shapes: flat
                each_shape = [(int(n),) for n in sizes[i]]
            each_name = [key] if names is None else list(names[i])
            if len(each_name) != len(each_shape) or sum(math.prod(s) for s in each_shape) != param.size:
                raise ValueError(f"Muon: names and shapes must give, for each array, the names and shapes of the "
                                 f"weights laid end to end in it (adding up to its {param.size} values), got "
                                 f"{len(each_name)} names and shapes {each_shape!r:.100}")
            # the paths depend on the names, shapes and settings alone: found once per layout
            found = (tuple(each_name), tuple(each_shape), tuple(self.exclude_layers), self.exclude_embeddings)
            if found not in self._found:
                if self.exclude_layers:         # each name searched once, here: a bounded time in all
                    check_search_cost(search_cost(self.exclude_layers, each_name), self.exclude_layers,
                                      "Muon: exclude_layers")
                layout, start = [], 0
                for name, shape in zip(each_name, each_shape):
                    layout.append((start, shape, not self.uses_adamw(name, shape), name))
                    start += math.prod(shape)
                if len(self._found) > 64:           # a model keeps one layout; arrays given by hand a few
                    self._found = {}
                self._found = {**self._found, found: layout}
            layouts[key] = self._found[found]
        self._layouts = layouts
        super().apply(triples, sizes, names, shapes)

    def _decays(self):
        return bool(self.weight_decay) or bool(self.adam_weight_decay)

    def _decay(self, triples, sizes, names):
        """Keras' Muon decay: ``weight_decay`` for Muon's weights, ``adam_weight_decay`` for AdamW's."""
        for key, param, _ in triples:
            # a 1-D view (a copy when the array is not contiguous, written back below)
            flat = param.reshape(-1) if param.flags.c_contiguous else param.ravel()
            tmp = self._buffer(key + "#decay", flat)
            for start, shape, muon, name in self._layout(key, param):
                rate = self.weight_decay if muon else self.adam_weight_decay
                if not rate or self._excluded(name):
                    continue
                stop = start + math.prod(shape)
                np.multiply(flat[start:stop], rate * self.learning_rate, out=tmp[start:stop])
                flat[start:stop] -= tmp[start:stop]
            if not param.flags.c_contiguous:
                param[...] = flat.reshape(param.shape)

    def _layout(self, key, param):
        layout = (self._layouts or {}).get(key)
        if layout is None:
            layout = [(0, tuple(param.shape), not self.uses_adamw(key, param.shape), key)]
        return layout

    def update(self, key, param, grad):
        if self._stepped_in_c_order(key, param, grad):     # its flat views below would be copies
            return
        slots, tmp = self._slot(key, param, "momentum", "velocity")
        flat = [a.reshape(-1) for a in (param, grad, slots["momentum"], slots["velocity"], tmp)]
        t, b1, b2 = self.iterations, self.adam_beta_1, self.adam_beta_2
        rate = self.learning_rate * self.adam_lr_ratio
        alpha = rate * math.sqrt(1 - b2 ** t) / (1 - b1 ** t)
        for start, shape, muon, _ in self._layout(key, param):
            w, g, m, v, tmp = (a[start:start + math.prod(shape)] for a in flat)
            if muon:
                self._muon_step(w.reshape(shape), g.reshape(shape), m.reshape(shape), tmp.reshape(shape))
                continue
            np.subtract(g, m, out=tmp)              # Keras' AdamW: m += (g - m)(1 - b1)
            tmp *= 1 - b1
            m += tmp
            np.multiply(g, g, out=tmp)              # v += (g^2 - v)(1 - b2)
            tmp -= v
            tmp *= 1 - b2
            v += tmp
            np.sqrt(v, out=tmp)                     # w -= m alpha / (sqrt(v) + eps)
            tmp += self.epsilon
            np.divide(m, tmp, out=tmp)
            tmp *= alpha
            w -= tmp

    def _muon_step(self, w, g, m, tmp):
        """Muon's step on one matrix ``w`` (in place), its gradient ``g`` and momentum ``m``."""
        mu = self.momentum
        np.multiply(m, mu - 1, out=tmp)             # m += g + (mu - 1) m, as Keras rounds it
        tmp += g
        m += tmp
        if self.nesterov:
            np.multiply(m, mu, out=tmp)
            tmp += g
        else:
            tmp[...] = m
        step = self.newton_schulz(tmp)
        step *= self.learning_rate
        if self.rms_rate is not None:
            step *= math.sqrt(max(w.shape[0], w.shape[1]))
            step *= self.rms_rate
        w -= step

    def newton_schulz(self, u):
        """``ns_steps`` quintic Newton-Schulz iterations on the matrix ``u`` (rows, cols), a new
        array of its shape and dtype close to its orthogonal factor (``U V^T`` of its SVD), Keras'
        ``zeropower_via_newtonschulz5``: ``X = u / (||u||_F + 1e-7)``, then ``A = X X^T``,
        ``X = a X + (b A + (c A) A) X``; on ``u.T`` when u has more rows than columns."""
        xp = backend.get_array_module(u)
        tall = u.shape[-2] > u.shape[-1]
        x = u.T if tall else u
        x = x / (u.dtype.type(math.sqrt(float(xp.vdot(u.reshape(-1), u.reshape(-1))))) + u.dtype.type(1e-7))
        a, b, c = self.muon_a, self.muon_b, self.muon_c
        for _ in range(self.ns_steps):
            gram = x @ x.T
            x = a * x + (b * gram + (c * gram) @ gram) @ x
        return xp.ascontiguousarray(x.T) if tall else x

