"""Helpers of the tests that feed glassnet crafted model files and configs (the security reviews'):
an edit of a saved file's JSON config, and an alarm that turns a hang into a failure."""
import io
import json
import signal
import zipfile
from contextlib import contextmanager

import numpy as np


def rewrite_config(path, change, out=None):
    """Copy the model file ``path`` to ``out`` (``path`` itself by default) with ``change(config)``
    applied to its JSON config first: a crafted or edited file, for the loader's checks."""
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(np.lib.format.read_array(io.BytesIO(members["config.npy"])).tobytes())
    change(config)
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, np.frombuffer(json.dumps(config).encode(), np.uint8), allow_pickle=False)
    members["config.npy"] = buffer.getvalue()
    with zipfile.ZipFile(path if out is None else out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


@contextmanager
def within(seconds):
    """Fail with a TimeoutError instead of hanging or swapping after ``seconds`` (the unbounded
    code a test guards against loops for hours or allocates terabytes). POSIX only (SIGALRM)."""
    def stop(*_):
        raise TimeoutError(f"took more than {seconds} s")
    previous = signal.signal(signal.SIGALRM, stop)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
