"""A PyTorch ``DataLoader`` or a TensorFlow ``tf.data.Dataset`` as the data of ``fit``, ``evaluate``
and ``predict``, as Keras 3 takes them (its ``TorchDataLoaderAdapter`` and ``TFDatasetAdapter``).

glassnet's one runtime dependency is NumPy, so neither library is imported here: the objects are
recognised by the names and modules of their classes (Keras' own test), and their batches' tensors
become NumPy arrays through the tensors' own methods. ``feeding.Feed`` reads them: a new pass each
epoch, in their own order.
"""
import numpy as np

# Keras' names for the two kinds, used in its messages ("When providing `x` as a torch DataLoader")
TORCH, TF = "torch DataLoader", "tf.data.Dataset"

# tf.data's cardinality for a dataset without an end (repeat()); -2 is "unknown" (after filter())
_INFINITE = -1


def framework_kind(data):
    """``"torch DataLoader"``, ``"tf.data.Dataset"`` or None: what ``data`` is, by its class or one
    of its bases (a subclass counts), without importing either library.

    >>> framework_kind([1, 2]) is None
    True
    """
    for cls in type(data).__mro__:
        module = getattr(cls, "__module__", None) or ""
        if cls.__name__ == "DataLoader" and module.startswith("torch.utils.data"):
            return TORCH
        if cls.__name__ == "DatasetV2" and module.startswith("tensorflow.python"):
            return TF
    return None


def batch_count(data):
    """``(batches per pass or None, endless)`` of a DataLoader or a Dataset. A DataLoader has a
    length unless its dataset is an ``IterableDataset`` without one; a Dataset's cardinality is
    its length, infinite after ``repeat()`` (endless) or unknown after ``filter()`` (None, not
    endless: a pass ends when its iterator does)."""
    if framework_kind(data) == TORCH:
        try:
            return len(data), False
        except TypeError:           # an IterableDataset without __len__
            return None, False
    cardinality = int(data.cardinality())
    return (cardinality, False) if cardinality >= 0 else (None, cardinality == _INFINITE)


def batch_as_numpy(batch, describe):
    """``batch`` as a DataLoader or a Dataset yields it -- a tuple or list ``(x, y[, w])``, a dict,
    or one tensor -- with every tensor in it a NumPy array of the tensor's dtype (float32 stays
    float32). Tuples, lists and dicts keep their form (a model of several inputs takes a dict or a
    list of arrays as x). ``describe(part)`` names a part of the batch in errors ("y (batch 3 of
    torch DataLoader)"). Anything else (a NumPy array already, a string) is left as it is, for the
    usual checks of ``fit`` to judge."""
    if isinstance(batch, (tuple, list)) and len(batch) <= 3:
        parts = [_as_numpy(part, describe(name)) for name, part in zip(("x", "y", "sample_weight"), batch)]
        return parts if isinstance(batch, list) else tuple(parts)
    return _as_numpy(batch, describe("x"))


def _as_numpy(value, where):
    if isinstance(value, (tuple, list)):
        parts = [_as_numpy(part, f"{where}[{i}]") for i, part in enumerate(value)]
        return parts if isinstance(value, list) else tuple(parts)
    if isinstance(value, dict):
        return {key: _as_numpy(part, f"{where}[{key!r}]") for key, part in value.items()}
    module = type(value).__module__ or ""
    if module.startswith("torch") and hasattr(value, "detach"):
        return _from_torch(value, where)
    if module.startswith("tensorflow"):
        return _from_tf(value, where)
    return value


def _from_torch(tensor, where):
    """A torch tensor's values as a NumPy array. ``detach()``: glassnet computes its own gradients
    and never sends one back into the data, so a tensor that requires grad is read as data; and
    ``cpu()``: a tensor on a GPU is copied to the host, as Keras' adapter does (both are no-ops
    for the usual CPU tensor, whose array then shares its memory: no copy)."""
    if str(tensor.layout) != "torch.strided":
        raise TypeError(f"{where}: a torch tensor of layout {tensor.layout} (sparse) has no NumPy form; make it "
                        f"dense in the dataset (tensor.to_dense())")
    # resolve_conj, resolve_neg: a lazily conjugated or negated view (x.conj().imag) has no
    # NumPy form until its values are made (no-ops otherwise)
    tensor = tensor.detach().cpu().resolve_conj().resolve_neg()
    try:
        return tensor.numpy()
    except TypeError as exc:       # bfloat16, which NumPy has no dtype for
        raise TypeError(f"{where}: a torch tensor of dtype {tensor.dtype} has no NumPy dtype ({exc}); "
                        f"convert it in the dataset (tensor.float())") from None


def _from_tf(tensor, where):
    """A TensorFlow eager tensor's values as a NumPy array (of its dtype)."""
    name = type(tensor).__name__
    if name in ("SparseTensor", "RaggedTensor") or not hasattr(tensor, "numpy"):
        raise TypeError(f"{where}: a tf {name} has no NumPy array of one shape; make it dense in the dataset "
                        f"(tf.sparse.to_dense, ragged.to_tensor()), or pad it")
    return np.asarray(tensor.numpy())
