"""The benchmark tasks of issue 5: data, architecture, loss, optimizer, batch size and epochs.

A task's network is a framework-neutral list of layer dicts, which every runner in ``peers/``
translates into its own framework::

    {"type": "dense", "units": 25, "activation": "relu"}
    {"type": "conv2d", "filters": 8, "kernel": 3, "activation": "relu"}     # valid padding, stride 1
    {"type": "maxpool2d", "pool": 2}
    {"type": "flatten"}

The last layer's activation is the output activation ("sigmoid" or "softmax"). Losses:
``squared_error`` (half the summed squares averaged over samples), ``binary_crossentropy``,
``categorical_crossentropy`` (targets are integer labels; every framework computes the same mean
cross-entropy over the batch).

``prepare`` (run in the parent process, which has glassnet and the datasets extra) loads the data and
draws glassnet's initial weights, and writes both to one ``.npz`` that each runner reads: the workers
need nothing but NumPy and their own framework.
"""
import json

import numpy as np

# task name -> settings. torch_ref_s: PyTorch 2.13 CPU seconds per epoch on a 2-core machine (the
# issue's figures, for orientation only). target: the goal for glassnet/PyTorch time.
TASKS = {
    "xor": dict(
        data="xor", input_shape=[2],
        layers=[dict(type="dense", units=3, activation="sigmoid"),
                dict(type="dense", units=1, activation="sigmoid")],
        loss="squared_error", optimizer="sgd", lr=1.0, batch_size=4, epochs=5000,
        torch_ref_s=0.38e-3, target=0.2),
    "moons": dict(
        data="moons", input_shape=[2],
        layers=[dict(type="dense", units=25, activation="relu"),
                dict(type="dense", units=50, activation="relu"),
                dict(type="dense", units=50, activation="relu"),
                dict(type="dense", units=25, activation="relu"),
                dict(type="dense", units=1, activation="sigmoid")],
        loss="binary_crossentropy", optimizer="sgd", lr=0.1, batch_size=32, epochs=200,
        torch_ref_s=20e-3, target=0.2),
    "digits": dict(
        data="digits", input_shape=[64],
        layers=[dict(type="dense", units=128, activation="sigmoid"),
                dict(type="dense", units=128, activation="sigmoid"),
                dict(type="dense", units=10, activation="softmax")],
        loss="categorical_crossentropy", optimizer="adam", lr=1e-3, batch_size=64, epochs=50,
        torch_ref_s=17e-3, target=0.2),
    "mnist_sgd1": dict(
        data="mnist", input_shape=[784],
        layers=[dict(type="dense", units=100, activation="tanh"),
                dict(type="dense", units=50, activation="tanh"),
                dict(type="dense", units=10, activation="softmax")],
        loss="categorical_crossentropy", optimizer="sgd", lr=0.01, batch_size=1, epochs=3,
        torch_ref_s=1.36, target=0.3),
    "mnist_wide": dict(
        data="mnist", input_shape=[784],
        layers=[dict(type="dense", units=512, activation="relu"),
                dict(type="dense", units=512, activation="relu"),
                dict(type="dense", units=10, activation="softmax")],
        loss="categorical_crossentropy", optimizer="adam", lr=1e-3, batch_size=128, epochs=10,
        torch_ref_s=0.18, target=1.0, blas_bound=True),
    "mnist1d_mlp": dict(
        data="mnist1d", input_shape=[40],
        layers=[dict(type="dense", units=100, activation="relu"),
                dict(type="dense", units=100, activation="relu"),
                dict(type="dense", units=10, activation="softmax")],
        loss="categorical_crossentropy", optimizer="adam", lr=1e-2, batch_size=100, epochs=60,
        torch_ref_s=39e-3, target=0.2),
    "mnist_cnn": dict(
        data="mnist_image", input_shape=[28, 28, 1],
        layers=[dict(type="conv2d", filters=8, kernel=3, activation="relu"),
                dict(type="maxpool2d", pool=2),
                dict(type="conv2d", filters=16, kernel=3, activation="relu"),
                dict(type="maxpool2d", pool=2),
                dict(type="flatten"),
                dict(type="dense", units=10, activation="softmax")],
        loss="categorical_crossentropy", optimizer="adam", lr=1e-3, batch_size=64, epochs=3,
        torch_ref_s=0.38, target=1.0),
}

ADAM_EPSILON = 1e-7     # used by every framework (glassnet's and Keras' default; PyTorch's is 1e-8)
INIT_SEED = 0           # glassnet's model seed: the initial weights every framework starts from
TRAIN_SEED = 0          # each framework's own seed for shuffling


def load_data(name):
    """``(X_train, y_train, X_test, y_test)`` from ``glassnet.datasets``; y are int64 labels."""
    from glassnet import datasets
    loaders = {
        "xor": datasets.xor,
        "moons": datasets.moons,
        "digits": datasets.digits,
        "mnist": datasets.mnist,
        "mnist_image": lambda: datasets.mnist(image_shape=True),
        "mnist1d": datasets.mnist1d,
    }
    (X, y), (Xt, yt) = loaders[name]()
    return X, y, Xt, yt


def build_glassnet(spec, seed=INIT_SEED):
    """The task's network as a glassnet ``Sequential`` (built, not compiled)."""
    import glassnet as gn
    layers = []
    for i, layer in enumerate(spec["layers"]):
        kwargs = {"input_shape": tuple(spec["input_shape"])} if i == 0 else {}
        kind = layer["type"]
        if kind == "dense":
            layers.append(gn.layers.Dense(layer["units"], activation=layer["activation"], **kwargs))
        elif kind == "conv2d":
            layers.append(gn.layers.Conv2D(layer["filters"], layer["kernel"],
                                           activation=layer["activation"], **kwargs))
        elif kind == "maxpool2d":
            layers.append(gn.layers.MaxPooling2D(layer["pool"], **kwargs))
        elif kind == "flatten":
            layers.append(gn.layers.Flatten(**kwargs))
        else:
            raise ValueError(f"unknown layer type {kind!r}")
    return gn.Sequential(layers, seed=seed, dtype="float32")


def compile_glassnet(model, spec):
    """Compile ``model`` with the task's loss and optimizer (SGD, or Adam with ``ADAM_EPSILON``,
    the epsilon every framework is given); returns the model."""
    import glassnet as gn
    optimizer = (gn.optimizers.SGD(learning_rate=spec["lr"]) if spec["optimizer"] == "sgd"
                 else gn.optimizers.Adam(learning_rate=spec["lr"], epsilon=ADAM_EPSILON))
    model.compile(loss=spec["loss"], optimizer=optimizer)
    return model


def scaled_epochs(spec, scale):
    """The task's epochs times ``scale``, at least 2 (the first epoch is never timed)."""
    return max(2, int(round(spec["epochs"] * scale)))


def runner_spec(name, y, y_test, scale=1.0):
    """The task dict the runners get (JSON-serialisable) for data with labels ``y`` / ``y_test``:
    the task's table entry plus ``epochs`` scaled, the sizes, the class count, Adam's epsilon and
    the shuffling seed (``TRAIN_SEED``; ``benchmarks/seeds.py`` replaces it per seed)."""
    spec = dict(TASKS[name], name=name)
    spec.update(epochs=scaled_epochs(spec, scale), n_train=int(y.shape[0]), n_test=int(y_test.shape[0]),
                n_classes=int(max(y.max(), y_test.max()) + 1), adam_epsilon=ADAM_EPSILON,
                train_seed=TRAIN_SEED)
    return spec


def prepare(name, scale, path):
    """Write the task's data and glassnet's initial weights to ``path`` (.npz); return the task
    dict the runners get (``runner_spec``), with the number of weight arrays added."""
    X, y, Xt, yt = load_data(TASKS[name]["data"])
    spec = runner_spec(name, y, yt, scale)
    weights = build_glassnet(spec).get_weights()
    arrays = {"X_train": X, "y_train": y, "X_test": Xt, "y_test": yt}
    arrays.update({f"w{i}": w for i, w in enumerate(weights)})
    np.savez(path, **arrays)
    spec["n_weights"] = len(weights)
    json.dumps(spec)        # fail here, not in a worker, if something is not serialisable
    return spec


def dense_flops_per_epoch(spec, n_samples):
    """FLOPs of the dense layers' matrix products over one epoch, forward and backward: 2*N*in*out
    forward, twice that backward (kernel and input gradients), minus the first layer's input
    gradient, which nobody needs. None when the network has other layers."""
    if any(layer["type"] != "dense" for layer in spec["layers"]):
        return None
    sizes = [spec["input_shape"][0]] + [layer["units"] for layer in spec["layers"]]
    products = [2 * n_samples * a * b for a, b in zip(sizes[:-1], sizes[1:])]
    return 3 * sum(products) - products[0]
