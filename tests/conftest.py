"""Shared fixtures: a seeded generator, float64 by default for checks, and the optional torch oracle."""
import importlib.util
import os

import numpy as np
import pytest

# Several test modules hide GPUs from TensorFlow (CUDA_VISIBLE_DEVICES="", set when they are
# collected), and CUDA reads that variable once, when a process first uses it. Where CuPy is
# installed, touch CUDA here, before any test module is collected, so that tests/test_gpu.py finds
# the GPU a machine has (the TensorFlow oracle is not installed on such machines in this project).
if importlib.util.find_spec("cupy") is not None:
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception:       # no driver or no device: test_gpu.py skips its GPU half and says why
        pass

# The Keras oracle runs on TensorFlow, whose oneDNN kernels differ by CPU: on an AMD EPYC with
# AVX-512 BF16 its max pooling with a window of 6 died of a floating-point exception (SIGFPE, the
# whole pytest process with it) in tests/test_adaptive_pooling.py. TensorFlow's own kernels are the
# reference Keras documents; TensorFlow reads this when it is first imported.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")


@pytest.fixture(autouse=True)
def _fresh_model_names():
    """Default model names count per session, as Keras 3.15's (``sequential``, ``sequential_1``,
    a subclass ``residual``, ``residual_1``): each test starts from a fresh session, as Keras' own
    test case clears it, so that a test reading a default name does not depend on the tests run
    before it in the same process (tests/test_subclassing.py failed after the README's tests)."""
    import glassnet
    glassnet.utils.clear_session()


@pytest.fixture
def ctrl_c():
    """A function that presses Ctrl-C: SIGINT sent to the main thread itself, with Python's own
    handler in place for the test. The tests of glassnet._interrupt need both: its DeferredInterrupt
    leaves a handler of someone else's alone, and a library an earlier test imported may have left
    one; and a SIGINT sent to the whole process (os.kill) may be taken by another thread (BLAS's,
    TensorFlow's), whose C handler then runs whenever that thread is scheduled, too late for a
    test that checks right after pressing it. Sent to the calling thread it is handled before the
    call returns."""
    import signal
    import threading
    if not hasattr(signal, "pthread_kill"):
        pytest.skip("sends SIGINT to its own main thread (POSIX)")
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield lambda: signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    finally:
        signal.signal(signal.SIGINT, previous)


@pytest.fixture
def keras():
    """Keras 3 on TensorFlow's CPU as a test oracle, skipped (with the reason) when not installed.
    A test file that needs Keras otherwise set up defines its own (test_weighting.py's float64)."""
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    yield keras
    # Keras 3.15's first layer fixes the global dtype policy from floatx (keras.config.dtype_policy()
    # does too, so it is read here from Keras' global state, unfixed): a test that set floatx to
    # float64 and put it back leaves float64 layers behind it until clear_session unfixes the policy.
    # Later tests compare with float32 Keras.
    from keras.src.backend.common import global_state
    policy = global_state.get_global_attribute("dtype_policy", None)
    if keras.config.floatx() != "float32" or (policy is not None and policy.name != "float32"):
        keras.config.set_floatx("float32")
        keras.backend.clear_session()


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def torch():
    """PyTorch as a test oracle only: tests that use it are skipped (with the reason) when absent."""
    torch = pytest.importorskip("torch", reason="PyTorch oracle not installed: pip install torch==2.13.0")
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)      # oracle comparisons run in float64
    yield torch
    torch.set_default_dtype(previous)           # later tests (examples, benchmarks) expect float32


@pytest.fixture
def edit_model_file():
    """``edit(path, change, out)``: copy the model file ``path`` to ``out`` with ``change(config)``
    applied to its JSON config first (a crafted or edited file, for the loader's checks)."""
    from crafted_files import rewrite_config
    return rewrite_config
