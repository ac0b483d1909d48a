"""Random functional models drawn the same in glassnet and in Keras 3 (tests/test_review_archfuzz2.py).

``draw(lib, seed)`` builds one model with ``lib`` (``glassnet`` or ``keras``): 1-3 Inputs of rank 2-3,
Dense / Conv1D / LayerNormalization / BatchNormalization, shared layers called twice, merges by
layers, by Python operators and by ``lib.ops`` (concatenate, matmul with transpose, reductions with
keepdims, softmax over an axis, indexing, expand_dims/squeeze, reshape), constants on either side,
MultiHeadAttention called by position and by keyword, and nested functional models. Every choice
comes from ``random.Random(seed)`` and the shapes this module tracks itself, so both libraries draw
the same graph. Layers are named ``L<k>`` so that their names can be compared.
"""
import random

import numpy as np


class _Drawer:
    def __init__(self, lib, seed):
        self.lib, self.r = lib, random.Random(seed)
        self.np = np.random.RandomState(seed)
        self.k = 0
        self.pool = []              # (tensor, sample shape)
        self.shared = []            # (layer, input sample shape, output sample shape)
        self.nested = []            # (model, input sample shape, output sample shape)

    def name(self):
        self.k += 1
        return f"L{self.k}"

    def const(self, shape):
        return np.round(self.np.uniform(0.5, 1.5, size=shape), 2).astype("float32")

    def pick(self, test=lambda s: True):
        fits = [t for t in self.pool if test(t[1])]
        return self.r.choice(fits) if fits else None

    def pair(self, test):
        """Two different tensors of one shape (test on that shape)."""
        by = {}
        for t in self.pool:
            if test(t[1]):
                by.setdefault(t[1], []).append(t)
        pairs = [ts for ts in by.values() if len(ts) > 1]
        if not pairs:
            return None
        return self.r.sample(self.r.choice(pairs), 2)

    def step(self):
        L, o, r = self.lib.layers, self.lib.ops, self.r
        kind = r.choice(["dense", "dense", "shared", "conv", "ln", "bn", "add", "concat", "mul",
                         "operator", "const", "unary", "reduce", "softmax", "index", "expand",
                         "reshape", "matmul", "matmul_const", "opsconcat", "stack", "mha", "mha_kw",
                         "nested", "nested_again", "maxmin", "transpose", "index2", "lmatmul",
                         "shared_conv", "mha_shared", "nested_shared", "sequential", "nested2", "deep_nested"])
        x = self.pick()
        t, s = x
        if kind == "dense" or (kind == "shared" and not self.shared):
            units = r.choice([2, 3, 4])
            layer = L.Dense(units, activation=r.choice([None, "tanh"]), name=self.name())
            out = s[:-1] + (units,)
            self.shared.append((layer, s, out))
            return layer(t), out
        if kind == "shared":
            layer, si, so = r.choice(self.shared)
            x = self.pick(lambda q: q == si)
            if x is None:
                return None
            return layer(x[0]), so
        if kind == "conv":
            x = self.pick(lambda q: len(q) == 2 and q[0] >= 2)
            if x is None:
                return None
            t, s = x
            filters, padding = r.choice([2, 3]), r.choice(["same", "valid"])
            out = ((s[0] if padding == "same" else s[0] - 1), filters)
            return L.Conv1D(filters, 2, padding=padding, name=self.name())(t), out
        if kind == "transpose":
            x = self.pick(lambda q: len(q) == 2)
            if x is None:
                return None
            return o.transpose(x[0], (0, 2, 1)), x[1][::-1]
        if kind == "index2":
            which = r.choice(["last", "tail", "none", "neg"])
            if which == "last" and len(s) == 2:
                return t[:, -1], s[1:]
            if which == "tail" and s[0] >= 2:
                return t[:, 1:], (s[0] - 1,) + s[1:]
            if which == "none" and len(s) == 1:
                return t[:, None], (1,) + s
            if which == "neg" and len(s) == 2 and s[1] >= 2:
                return t[:, :, -2:], (s[0], 2)
            return None
        if kind == "lmatmul":
            x = self.pick(lambda q: len(q) == 2)
            if x is None:
                return None
            m = r.choice([2, 3])
            return o.matmul(self.const((m, x[1][0])), x[0]), (m, x[1][1])
        if kind == "shared_conv":
            x = self.pick(lambda q: len(q) == 2 and q[0] >= 2)
            if x is None:
                return None
            conv = L.Conv1D(2, 2, padding="same", name=self.name())
            self.shared.append((conv, x[1], (x[1][0], 2)))
            y = conv(x[0])
            return conv(o.tanh(y) if x[1][1] == 2 else x[0]), (x[1][0], 2)
        if kind == "mha_shared":
            x = self.pick(lambda q: len(q) == 2)
            if x is None:
                return None
            mha = L.MultiHeadAttention(num_heads=1, key_dim=3, name=self.name())
            y = mha(x[0], x[0], x[0])
            return mha(y, value=x[0]), x[1]
        if kind == "nested_shared":
            if not self.shared:
                return None
            layer, si, so = r.choice(self.shared)
            inner = self.lib.Input(si)
            model = self.lib.Model(inner, L.Dense(2, name=self.name())(layer(inner)), name=self.name())
            self.nested.append((model, si, so[:-1] + (2,)))
            x = self.pick(lambda q: q == si)
            if x is None:
                return None
            return model(x[0]), so[:-1] + (2,)
        if kind == "sequential":
            model = self.lib.Sequential([self.lib.Input(s), L.Dense(3, activation="relu", name=self.name()),
                                         L.LayerNormalization(name=self.name())], name=self.name())
            self.nested.append((model, s, s[:-1] + (3,)))
            return model(t), s[:-1] + (3,)
        if kind == "nested2":
            p = self.pair(lambda q: True)
            if p is None:
                return None
            (a, sa), (b, _) = p
            i1, i2 = self.lib.Input(sa), self.lib.Input(sa)
            shared = L.Dense(sa[-1], name=self.name())
            h1 = shared(i1)
            h2 = L.Add(name=self.name())([shared(i2), o.tanh(i1)])
            model = self.lib.Model([i1, i2], [h2, h1 * i2], name=self.name())
            o1, o2 = model([b, a] if r.random() < 0.5 else [a, b])
            # both outputs used: Keras lists a nested model's every weight, glassnet those reached
            return L.Concatenate(name=self.name())([o2, o1]), sa[:-1] + (2 * sa[-1],)
        if kind == "deep_nested":
            if not self.nested:
                return None
            model, si, so = r.choice(self.nested)
            inner = self.lib.Input(si)
            h = model(L.LayerNormalization(name=self.name())(inner))
            outer = self.lib.Model(inner, L.Dense(2, name=self.name())(h) - h[..., :1], name=self.name())
            self.nested.append((outer, si, so[:-1] + (2,)))
            x = self.pick(lambda q: q == si)
            return outer(x[0]), so[:-1] + (2,)
        if kind == "ln":
            return L.LayerNormalization(name=self.name())(t), s
        if kind == "bn":
            return L.BatchNormalization(name=self.name())(t), s
        if kind in ("add", "mul"):
            p = self.pair(lambda q: True)
            if p is None:
                return None
            layer = (L.Add if kind == "add" else L.Multiply)(name=self.name())
            return layer([p[0][0], p[1][0]]), p[0][1]
        if kind == "concat":
            p = self.pair(lambda q: True)
            if p is None:
                return None
            return L.Concatenate(name=self.name())([p[0][0], p[1][0]]), p[0][1][:-1] + (2 * p[0][1][-1],)
        if kind == "operator":
            p = self.pair(lambda q: True)
            if p is None:
                return None
            (a, sa), (b, _) = p
            which = r.choice("+-*/")
            if which == "+":
                return a + b, sa
            if which == "-":
                return a - b, sa
            if which == "*":
                return a * b, sa
            return a / (b * b + 1.0), sa
        if kind == "const":
            which = r.choice(["radd", "rsub", "mul_arr", "arr_add", "div", "rdiv", "pow", "neg", "abs"])
            if which == "radd":
                return 1.5 + t, s
            if which == "rsub":
                return 2.0 - t, s
            if which == "mul_arr":
                return t * self.const(s[-1:]), s
            if which == "arr_add":
                return o.add(self.const(s), t), s
            if which == "div":
                return t / 4.0, s
            if which == "rdiv":
                return 1.0 / (t * t + 2.0), s
            if which == "pow":
                return t ** 2, s
            if which == "neg":
                return -t, s
            return abs(t), s
        if kind == "unary":
            which = r.choice(["exp", "log", "sqrt", "square", "tanh", "sigmoid", "relu", "softplus",
                              "abs", "negative", "clip"])
            if which == "exp":
                return o.exp(o.tanh(t)), s
            if which == "log":
                return o.log(o.softplus(t) + 1.0), s
            if which == "sqrt":
                return o.sqrt(o.square(t) + 1.0), s
            if which == "clip":
                return o.clip(t, -0.5, 0.5), s
            return getattr(o, which)(t), s
        if kind == "maxmin":
            p = self.pair(lambda q: True)
            if p is None or r.random() < 0.5:
                return (o.minimum(t, 0.3) if r.random() < 0.5 else o.maximum(-0.2, t)), s
            return (o.maximum if r.random() < 0.5 else o.minimum)(p[0][0], p[1][0]), p[0][1]
        if kind == "reduce":
            axis = r.randrange(1, len(s) + 1)
            f = r.choice(["sum", "mean", "max", "min"])
            return getattr(o, f)(t, axis=axis, keepdims=True), s[:axis - 1] + (1,) + s[axis:]
        if kind == "softmax":
            axis = r.choice([-1] + list(range(1, len(s) + 1)))
            return (o.softmax if r.random() < 0.6 else o.log_softmax)(t, axis=axis), s
        if kind == "index":
            which = r.choice(["head", "step", "first"])
            if which == "head" and s[0] >= 2:
                return t[:, 0:2], (2,) + s[1:]
            if which == "step" and s[-1] >= 2:
                return t[..., ::2], s[:-1] + ((s[-1] + 1) // 2,)
            if which == "first" and len(s) == 2:
                return t[:, 0], s[1:]
            return None
        if kind == "expand":
            axis = r.randrange(1, len(s) + 2)
            e = o.expand_dims(t, axis)
            mid = o.tanh(e) if r.random() < 0.5 else e
            return o.squeeze(mid, axis=axis), s
        if kind == "reshape":
            if len(s) == 2:
                return o.reshape(t, (-1, s[0] * s[1])), (s[0] * s[1],)
            if s[0] % 2 == 0:
                return o.reshape(t, (-1, 2, s[0] // 2)), (2, s[0] // 2)
            return o.reshape(t, (-1, s[0], 1)), (s[0], 1)
        if kind == "matmul":
            p = self.pair(lambda q: len(q) == 2)
            if p is None:
                return None
            (a, sa), (b, _) = p
            return o.matmul(a, o.transpose(b, (0, 2, 1))), (sa[0], sa[0])
        if kind == "matmul_const":
            units = r.choice([2, 3])
            w = self.const((s[-1], units))
            return o.matmul(t, w), s[:-1] + (units,)
        if kind in ("opsconcat", "stack"):
            p = self.pair(lambda q: True)
            if p is None:
                return None
            (a, sa), (b, _) = p
            if kind == "opsconcat":
                axis = r.randrange(1, len(sa) + 1)
                out = list(sa)
                out[axis - 1] *= 2
                return o.concatenate([a, b], axis=axis), tuple(out)
            if len(sa) != 1:
                return None
            return o.stack([a, b], axis=1), (2,) + sa
        if kind in ("mha", "mha_kw"):
            q = self.pick(lambda q: len(q) == 2)
            if q is None:
                return None
            v = self.pick(lambda z: len(z) == 2)
            mha = L.MultiHeadAttention(num_heads=2, key_dim=2, name=self.name())
            if kind == "mha":
                return mha(q[0], v[0]), q[1]
            k = self.pick(lambda z: z[0] == v[1][0] and len(z) == 2)
            return mha(query=q[0], value=v[0], key=k[0]), q[1]
        if kind == "nested_again" and self.nested:
            model, si, so = r.choice(self.nested)
            x = self.pick(lambda q: q == si)
            if x is None:
                return None
            return model(x[0]), so
        if kind in ("nested", "nested_again"):
            units = r.choice([2, 3])
            inner = self.lib.Input(s)
            h = L.Dense(units, activation="tanh", name=self.name())(inner)
            h2 = L.Dense(units, name=self.name())(inner)
            out = s[:-1] + (units,)
            model = self.lib.Model(inner, h * 0.5 + o.sigmoid(h2), name=self.name())
            self.nested.append((model, s, out))
            return model(t), out
        raise AssertionError(kind)


def draw(lib, seed):
    """``(model, input sample shapes in the model's order, output sample shapes)`` for ``seed``."""
    d = _Drawer(lib, seed)
    r = d.r
    shapes = []
    for _ in range(r.randint(1, 3)):
        shapes.append(r.choice([(r.choice([2, 3, 4]),), (r.choice([2, 3, 4]), r.choice([2, 3]))]))
    inputs = [lib.Input(s) for s in shapes]
    d.pool = list(zip(inputs, shapes))
    made = []
    for _ in range(r.randint(3, 14)):
        got = d.step()
        if got is not None:
            d.pool.append(got)
            made.append(got)
    made.append(d.step() or (lib.layers.Dense(2, name=d.name())(d.pool[-1][0]), d.pool[-1][1][:-1] + (2,)))
    outputs = [made[-1]]
    if len(made) > 1 and r.random() < 0.3:
        outputs.append(r.choice(made[:-1]))
    order = list(range(len(inputs)))
    r.shuffle(order)
    model = lib.Model([inputs[k] for k in order], [t for t, _ in outputs])
    return model, [shapes[k] for k in order], [s for _, s in outputs]
