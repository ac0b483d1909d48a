"""PyTorch (CPU, float32): the same network from glassnet's initial weights, trained by the loop a
PyTorch user writes when they care about speed.

Tensors are made once; each epoch shuffles with ``torch.randperm`` (or, when the task sets
``order_seed``, glassnet's permutation: see ``common.shared_orders``) and one gather, then takes
slices; ``zero_grad(set_to_none=True)``; the loss fused with the output activation
(``F.cross_entropy`` on logits, ``binary_cross_entropy_with_logits``); the loss is never read back
per batch (``.item()`` would cost a little; glassnet does read it). Threads: PyTorch's default.
A full-batch task (xor) is not shuffled, as glassnet does not shuffle it: the order of the samples
cannot change a full-batch step.
"""
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from common import accuracy, epoch_seconds, rss_mib, shared_orders

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def build(task, weights):
    """nn.Sequential from the task spec, its parameters copied from glassnet's (kernel.T for Linear,
    (kh, kw, in, out) -> (out, in, kh, kw) for Conv2d). The output activation is left out when the
    loss takes logits. Images run as NCHW, so the Dense after a Flatten gets its rows reordered from
    glassnet's (h, w, c) order to PyTorch's (c, h, w)."""
    modules, shape, w = [], list(task["input_shape"]), iter(weights)
    logits = task["loss"] != "squared_error"
    n = len(task["layers"])
    for i, layer in enumerate(task["layers"]):
        kind, last = layer["type"], i == n - 1
        if kind == "dense":
            kernel, bias = next(w), next(w)
            if len(shape) == 3:           # follows a Flatten of (h, w, c) maps
                h, wd, c = shape
                kernel = kernel.reshape(h, wd, c, -1).transpose(2, 0, 1, 3).reshape(h * wd * c, -1)
            lin = nn.Linear(kernel.shape[0], kernel.shape[1])
            with torch.no_grad():
                lin.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.T)))
                lin.bias.copy_(torch.from_numpy(bias))
            modules.append(lin)
            shape = [layer["units"]]
        elif kind == "conv2d":
            kernel, bias = next(w), next(w)
            conv = nn.Conv2d(shape[2], layer["filters"], layer["kernel"])
            with torch.no_grad():
                conv.weight.copy_(torch.from_numpy(np.ascontiguousarray(kernel.transpose(3, 2, 0, 1))))
                conv.bias.copy_(torch.from_numpy(bias))
            modules.append(conv)
            k = layer["kernel"]
            shape = [shape[0] - k + 1, shape[1] - k + 1, layer["filters"]]
        elif kind == "maxpool2d":
            p = layer["pool"]
            modules.append(nn.MaxPool2d(p))
            shape = [shape[0] // p, shape[1] // p, shape[2]]
        elif kind == "flatten":
            modules.append(nn.Flatten())
            # keep the (h, w, c) shape: the next Dense reorders its rows from it
        activation = layer.get("activation")
        if activation in ("softmax",) or (last and logits):
            continue
        if activation:
            modules.append(_ACTIVATIONS[activation]())
    return nn.Sequential(*modules)


def targets_and_loss(task, y):
    """``(Y, loss_fn)``: the labels ``y`` as the tensor the task's loss reads, and that loss on the
    network's logits (the output activation fused into it), averaged over the batch as glassnet's."""
    if task["loss"] == "categorical_crossentropy":
        return torch.from_numpy(y), F.cross_entropy                   # int64 labels
    Y = torch.from_numpy(y.astype(np.float32).reshape(-1, 1))
    if task["loss"] == "binary_crossentropy":
        return Y, F.binary_cross_entropy_with_logits
    half_k = 0.5 * Y.shape[1]                                         # squared_error: sum/(2n)

    def loss_fn(out, target):
        return half_k * F.mse_loss(out, target)
    return Y, loss_fn


def optimizer(task, model):
    """The task's optimizer over ``model``'s parameters (Adam with the epsilon every framework uses)."""
    if task["optimizer"] == "sgd":
        return torch.optim.SGD(model.parameters(), lr=task["lr"])
    return torch.optim.Adam(model.parameters(), lr=task["lr"], eps=task["adam_epsilon"])


def run(task, X, y, Xt, yt, weights):
    torch.manual_seed(task["train_seed"])
    model = build(task, weights)
    if len(task["input_shape"]) == 3:     # NHWC -> NCHW, once
        X, Xt = X.transpose(0, 3, 1, 2), Xt.transpose(0, 3, 1, 2)
    X = torch.from_numpy(np.ascontiguousarray(X))
    Xt = torch.from_numpy(np.ascontiguousarray(Xt))
    loss_name = task["loss"]
    Y, loss_fn = targets_and_loss(task, y)
    opt = optimizer(task, model)
    n, bs, epochs = X.shape[0], task["batch_size"], task["epochs"]
    orders = shared_orders(task)
    rss_before = rss_mib()

    model.train()
    stamps = [time.perf_counter()]
    for _ in range(epochs):
        if bs < n:
            perm = torch.randperm(n) if orders is None else torch.from_numpy(orders.permutation(n))
            Xs, Ys = X[perm], Y[perm]
        else:
            Xs, Ys = X, Y
        for i in range(0, n, bs):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(Xs[i:i + bs]), Ys[i:i + bs])
            loss.backward()
            opt.step()
        stamps.append(time.perf_counter())

    model.eval()
    with torch.inference_mode():
        out = model(Xt).numpy()
    return {"epoch_seconds": epoch_seconds(stamps),
            "test_accuracy": accuracy(out, yt, logits=loss_name != "squared_error"),
            "rss_after_import_mib": rss_before,
            "versions": {"torch": torch.__version__}, "threads": torch.get_num_threads(),
            "notes": ""}
