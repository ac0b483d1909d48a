"""Review of the chunked convolutions (layers/conv_memory.py, conv_chunks.py): the paths
tests/test_conv_memory.py leaves out. A differential over random settings (every rank, transposed
with output_padding, grouped, strided, dilated, causal, channels_first, batches not divisible by the
chunk) against the unchunked path and PyTorch in float64; ConvLSTM, the ops under a GradientTape
(first and second order); a limit changed between forward and backward. No bug was found on these
paths: they guard the chunked code against regressions."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import conv_memory
from glassnet.layers.conv_memory import Chunked

L = gn.layers


@pytest.fixture
def limit():
    """Sets the bound for one test and puts the default back, whatever the test did."""
    yield conv_memory.set_conv_memory_limit
    conv_memory.set_conv_memory_limit(conv_memory.CONV_MEMORY_LIMIT)


def _rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _tf_pads(size, k, s, d, padding):
    span = (k - 1) * d + 1
    if padding == "valid":
        return 0, 0
    if padding == "causal":
        return span - 1, 0
    total = max((-(-size // s) - 1) * s + span - size, 0)
    return total // 2, total - total // 2


def _torch_pass(torch, layer, x, g, transposed, strides, dilation, padding, groups):
    """z, dx, dkernel, dbias of PyTorch's convolution with the layer's weights (channels last)."""
    F, rank = torch.nn.functional, x.ndim - 2
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    # (*k, a, b) -> (b, a, *k): conv's (F, C/g, *k) and conv_transpose's (C_in, filters, *k) alike
    w = torch.tensor(np.moveaxis(np.moveaxis(layer.params["kernel"], -1, 0), -1, 1).copy(), requires_grad=True)
    b = None if "bias" not in layer.params else torch.tensor(layer.params["bias"], requires_grad=True)
    if transposed:
        out = g.shape[1:-1]
        pads = [_tf_pads(out[i], w.shape[2 + i], strides[i], 1, padding) for i in range(rank)]
        full = [(x.shape[1 + i] - 1) * strides[i] + w.shape[2 + i] for i in range(rank)]
        extra = [out[i] + sum(pads[i]) - full[i] for i in range(rank)]
        f = (F.conv_transpose1d, F.conv_transpose2d, F.conv_transpose3d)[rank - 1]
        z = f(xt, w, b, stride=strides, output_padding=extra)
        z = z[(slice(None), slice(None), *(slice(p[0], p[0] + o) for p, o in zip(pads, out)))]
    else:
        pads = [_tf_pads(x.shape[1 + i], w.shape[2 + i], strides[i], dilation[i], padding) for i in range(rank)]
        f = (F.conv1d, F.conv2d, F.conv3d)[rank - 1]
        z = f(F.pad(xt, [p for pair in reversed(pads) for p in pair]), w, b, stride=strides, dilation=dilation,
              groups=groups)
    z.backward(torch.tensor(np.moveaxis(g, -1, 1)))
    dk = np.moveaxis(np.moveaxis(w.grad.numpy(), 1, -1), 0, -1)
    return (np.moveaxis(z.detach().numpy(), 1, -1), np.moveaxis(xt.grad.numpy(), 1, -1), dk,
            None if b is None else b.grad.numpy())


def _setting(rng):
    rank, transposed = int(rng.integers(1, 4)), bool(rng.random() < 0.35)
    k = tuple(int(v) for v in rng.integers(1, 4, rank))
    strides, dilation = tuple(int(v) for v in rng.integers(1, 4, rank)), (1,) * rank
    channels, filters, groups = int(rng.integers(1, 5)), int(rng.integers(1, 5)), 1
    kwargs = dict(kernel_size=k, use_bias=bool(rng.random() < 0.7))
    if transposed:
        paddings = ["valid", "same"]
        if rng.random() < 0.5:
            kwargs["output_padding"] = tuple(int(rng.integers(0, s)) for s in strides)
    else:
        paddings = ["valid", "same", "causal"] if rank == 1 else ["valid", "same"]
        if rng.random() < 0.4:          # Keras: dilation with strides 1
            strides, dilation = (1,) * rank, tuple(int(v) for v in rng.integers(1, 4, rank))
        if rng.random() < 0.3:
            groups = int(rng.choice([2, 3]))
            channels, filters = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3))
            kwargs["groups"] = groups
        kwargs["dilation_rate"] = dilation
    kwargs.update(filters=filters, strides=strides, padding=str(rng.choice(paddings)))
    channels_first = bool(rng.random() < 0.25)
    if channels_first:
        kwargs["data_format"] = "channels_first"
    cls = ((L.Conv1D, L.Conv2D, L.Conv3D), (L.Conv1DTranspose, L.Conv2DTranspose, L.Conv3DTranspose))[transposed][rank - 1]
    spatial = tuple(int(v) for v in rng.integers(3 * max(k), 3 * max(k) + 5, rank))
    n = int(rng.choice([1, 2, 3, 5, 7]))
    shape = (n, channels, *spatial) if channels_first else (n, *spatial, channels)
    return cls, kwargs, shape, transposed, strides, dilation, groups, channels_first


def test_random_settings_chunked_equal_unchunked_and_torch(torch, limit, monkeypatch):
    """40 random convolutions in float64: chunks of one sample and of two (a batch of 3, 5 or 7 in
    uneven chunks) give the unchunked outputs and gradients to 1e-12, and PyTorch's."""
    sizes = []      # each call's bytes of patches per sample, as the convolutions reckon them

    def step(batch, sample_bytes, original=conv_memory.batch_step):
        sizes.append(sample_bytes)
        return original(batch, sample_bytes)
    monkeypatch.setattr("glassnet.layers.conv.batch_step", step)
    monkeypatch.setattr("glassnet.layers.grouped_conv.batch_step", step)
    rng = np.random.default_rng(2026)
    checked = 0
    while checked < 40:
        cls, kwargs, shape, transposed, strides, dilation, groups, first = _setting(rng)
        x = rng.standard_normal(shape)
        limit(None)
        layer = cls(**kwargs, seed=checked, dtype="float64")
        try:
            out = layer(x)
        except ValueError:      # a transposed output_padding that no convolution takes back (refused as before)
            continue
        if "bias" in layer.params:
            layer.params["bias"][...] = rng.standard_normal(layer.params["bias"].shape)
        g = rng.standard_normal(out.shape)
        runs = {}
        for bound in (None, 1, "two"):
            if bound == "two":      # two samples' patches and a half: chunks of 2
                bound = 2 * sizes[-1] + sizes[-1] // 2
            limit(bound)
            z = layer.forward(x, training=True).copy()
            sample = sizes[-1]
            kind = type(layer._cache)
            dx = layer.backward(g).copy()
            runs[bound] = (z, dx, {key: value.copy() for key, value in layer.grads.items()}, kind)
        whole = runs.pop(None)
        assert whole[3] is tuple
        for bound, (z, dx, grads, kind) in runs.items():
            what = f"{cls.__name__} {kwargs} {shape} limit {bound}"
            assert kind is (Chunked if shape[0] * sample > bound else tuple), what
            assert _rel(z, whole[0]) <= 1e-14 and _rel(dx, whole[1]) <= 1e-12, what
            for key, value in whole[2].items():
                assert _rel(grads[key], value) <= 1e-12, (what, key)
        # PyTorch, from the chunked pass of one sample per chunk
        z, dx, grads, _ = runs[1]
        last = (lambda a: np.moveaxis(a, 1, -1)) if first else (lambda a: a)
        tz, tdx, tdk, tdb = _torch_pass(torch, layer, last(x), last(g), transposed, strides, dilation,
                                        kwargs["padding"], groups)
        what = f"{cls.__name__} {kwargs} {shape}"
        assert _rel(last(z), tz) <= 1e-12 and _rel(last(dx), tdx) <= 1e-12, what
        assert _rel(grads["kernel"], tdk) <= 1e-12, what
        if tdb is not None:
            assert _rel(grads["bias"], tdb) <= 1e-12, what
        checked += 1


@pytest.mark.parametrize("kwargs", [dict(padding="same"), dict(padding="same", kernel_size=1),
                                    dict(padding="valid", strides=2, return_sequences=True, go_backwards=True),
                                    dict(padding="same", dropout=0.3, recurrent_dropout=0.2, return_sequences=True)])
def test_convlstm_chunked_equals_unchunked(kwargs, limit):
    """ConvLSTM2D's input and recurrent products (conv_forward over the steps as a batch, and per
    step over the states) chunked: the same outputs, input gradient and weight gradients."""
    kwargs = {"kernel_size": 3, **kwargs}
    rng = np.random.default_rng(7)
    x = rng.standard_normal((3, 4, 7, 7, 2))
    mask = np.ones((3, 4), bool)
    mask[1, -1] = False
    runs = []
    for bound in (None, 1):
        limit(bound)
        layer = L.ConvLSTM2D(3, **kwargs, seed=0, dtype="float64")
        y = layer(x, training=True)
        g = np.cos(np.arange(y.size)).reshape(y.shape)
        y = layer.forward(x, training=True, mask=mask)
        assert isinstance(layer._input_caches[0], Chunked) == (bound is not None)
        dx = layer.backward(g)
        runs.append([y, dx] + [layer.grads[key].copy() for key in sorted(layer.grads)])
    for chunked, whole in zip(*runs[::-1]):
        assert _rel(chunked, whole) <= 1e-12


@pytest.mark.parametrize("op", ["conv", "conv_transpose", "depthwise_conv"])
def test_ops_on_a_tape_chunked_equal_unchunked(op, limit):
    """``ops.conv`` / ``conv_transpose`` (chunked through the layers' functions) and
    ``depthwise_conv`` (never chunked) under a GradientTape: values and gradients as unchunked."""
    rng = np.random.default_rng(8)
    x = rng.standard_normal((5, 9, 9, 4))
    kernel = rng.standard_normal({"conv": (3, 3, 4, 6), "conv_transpose": (3, 3, 6, 4),
                                  "depthwise_conv": (3, 3, 4, 2)}[op])
    runs = []
    for bound in (None, 1):
        limit(bound)
        xv = gn.ops.convert_to_tensor(x)
        with gn.GradientTape() as tape:
            tape.watch(xv)
            tape.watch(kernel)
            y = getattr(gn.ops, op)(xv, kernel, strides=2 if op != "depthwise_conv" else 1, padding="same")
            s = gn.ops.sum(gn.ops.square(y))
        runs.append([np.asarray(y)] + [np.asarray(v) for v in tape.gradient(s, [xv, kernel])])
    for chunked, whole in zip(*runs[::-1]):
        assert _rel(chunked, whole) <= 1e-12


def test_gradient_penalty_chunked_equals_unchunked(limit):
    """Second order (a WGAN-GP gradient penalty through a Conv2D critic, _tape_second_rules'
    Convolution, which caches the tangent's convolution too): the same penalty and weight gradients."""
    x = np.random.default_rng(9).standard_normal((6, 8, 8, 3))
    runs = []
    for bound in (None, 1):
        limit(bound)
        critic = gn.Sequential([L.Input((8, 8, 3)), L.Conv2D(4, 3, strides=2, padding="same", activation="tanh"),
                                L.Conv2D(5, 3, padding="same", activation="tanh"), L.Flatten(), L.Dense(1)],
                               seed=1, dtype="float64")
        xv = gn.ops.convert_to_tensor(x)
        with gn.GradientTape() as outer:
            with gn.GradientTape() as inner:
                inner.watch(xv)
                y = critic(xv, training=True)
            gx = inner.gradient(y, xv)
            penalty = gn.ops.mean(gn.ops.square(gn.ops.sqrt(gn.ops.sum(gn.ops.square(gx), axis=[1, 2, 3])) - 1.0))
        grads = outer.gradient(penalty, critic.trainable_variables)
        runs.append([np.asarray(gx), np.asarray(penalty)] + [np.asarray(v) for v in grads if v is not None])
    assert len(runs[0]) == len(runs[1]) > 4
    for chunked, whole in zip(*runs[::-1]):
        assert _rel(chunked, whole) <= 1e-12


@pytest.mark.parametrize("first, second", [(1, None), (None, 1)])
def test_limit_changed_between_forward_and_backward(first, second, limit):
    """Backward follows the cache forward made, whatever the limit is by then."""
    x = np.random.default_rng(10).standard_normal((5, 9, 9, 4))
    runs = []
    for bounds in ((None, None), (first, second)):
        layer = L.Conv2D(4, 3, padding="same", seed=0, dtype="float64")
        limit(bounds[0])
        y = layer(x, training=True)
        limit(bounds[1])
        dx = layer.backward(np.cos(np.arange(y.size)).reshape(y.shape))
        runs.append([y, dx, layer.grads["kernel"].copy(), layer.grads["bias"].copy()])
    for changed, whole in zip(*runs[::-1]):
        assert _rel(changed, whole) <= 1e-12
