"""Review of Adam/AdamW amsgrad and RMSprop centered: findings that failed before their fixes."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import optimizers

from test_gpu import cupy  # noqa: F401  (the fixture: fakecupy, and CuPy where a GPU is)


def _model():
    return gn.Sequential([gn.layers.Input((3,)), gn.layers.Dense(5, activation="tanh"),
                          gn.layers.Dense(1, name="out")], seed=0)


@pytest.mark.parametrize("make, option", [(lambda: optimizers.Adam(0.01), "amsgrad"),
                                          (lambda: optimizers.AdamW(0.01), "amsgrad"),
                                          (lambda: optimizers.RMSprop(0.01, momentum=0.5), "centered")],
                         ids=["adam", "adamw", "rmsprop"])
def test_option_turned_on_then_saved_before_the_next_step_loads_and_resumes_bit_for_bit(make, option, rng,
                                                                                         tmp_path):
    """Turned on between fits and saved at once (a checkpoint), the state has no v_hat (no
    average_gradient) yet: the file must load, and continue as the run it saved would have."""
    x, y = rng.standard_normal((24, 3)).astype(np.float32), rng.standard_normal((24, 1)).astype(np.float32)
    model = _model()
    model.compile("mse", make())
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    setattr(model.optimizer, option, True)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")          # was: ModelFileError, the file lacks v_hat
    assert getattr(loaded.optimizer, option) is True
    more = [m.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0).history["loss"] for m in (model, loaded)]
    assert more[0] == more[1]
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
    # and the same through get_state/set_state by hand
    fresh = optimizers.from_config(model.optimizer.get_config())
    fresh.set_state(model.optimizer.get_state())
    assert set(fresh.get_state()["slots"]["params"]) == set(model.optimizer.get_state()["slots"]["params"])


def test_state_of_an_option_turned_on_before_the_next_step_on_fakecupy(cupy, rng):
    """The zeros get_state holds for it are on the device, as the rest of the state."""
    for opt, option, slot in ((optimizers.Adam(0.05), "amsgrad", "v_hat"),
                              (optimizers.RMSprop(0.05), "centered", "average_gradient")):
        w = cupy.asarray(rng.standard_normal(6).astype(np.float32))
        opt.apply([("w", w, cupy.asarray(rng.standard_normal(6).astype(np.float32)))])
        setattr(opt, option, True)
        state = opt.get_state()["slots"]["w"]
        assert isinstance(state[slot], cupy.ndarray) and not cupy.asnumpy(state[slot]).any()
        assert slot not in opt.slots["w"]          # get_state does not change the optimizer
