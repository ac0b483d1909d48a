"""``glassnet.utils.Progbar`` (Keras' ``keras.utils.Progbar``): the text it writes against Keras
3.15's for the same calls at the same (faked) times, the averaging of values worked by hand, what
goes to a file rather than a terminal, and bad arguments."""
import io
import re
import sys
import types

import numpy as np
import pytest

from glassnet.callbacks import progress
from glassnet.utils import Progbar


class Terminal(io.StringIO):
    def isatty(self):
        return True


class Clock:
    """A clock the test moves by hand: times in the text are then the same in every run."""

    def __init__(self, now=10.0):
        self.now = now

    def __call__(self):
        return self.now


def _run(make, module, clock_name, calls, terminal=True, monkeypatch=None):
    """Write the bar ``make()`` gives through ``calls`` (``(time, method, args, kwargs)``) into a
    StringIO (a terminal when ``terminal``), with ``module``'s clock faked; the text written."""
    clock = Clock(calls[0][0])
    monkeypatch.setattr(module, "time", types.SimpleNamespace(**{clock_name: clock}))
    out = Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    bar = make()
    for when, method, args, kwargs in calls:
        clock.now = when
        getattr(bar, method)(*args, **kwargs)
    monkeypatch.undo()
    return out.getvalue()


# times from 10 s: Keras' first draw needs a clock past its interval (its last draw starts at 0)
CALLS = [(10.0, "update", (1,), {"values": [("loss", 0.5), ("acc", 0.7)]}),
         (10.5, "update", (3,), {"values": [("loss", 0.3), ("acc", 0.72)]}),
         (11.0, "add", (2,), {"values": [("loss", 0.2), ("acc", 0.8)]}),
         (11.7, "update", (8,), {"values": [("loss", 1e-5), ("acc", 0.81)]}),
         (12.5, "update", (10,), {"values": [("loss", 0.25), ("acc", 0.9)]}),
         (13.0, "update", (10,), {"values": [("loss", 0.4)], "finalize": True})]


def _plain(keras_text):
    """Keras' text without its colour codes and backspaces (it steps back with both "\\b" and "\\r")."""
    return re.sub(r"\x1b\[\d+m", "", keras_text).replace("\b", "")


@pytest.mark.parametrize("target", [10, None])
@pytest.mark.parametrize("stateful", [["acc"], None])
def test_the_lines_are_keras_lines_but_for_the_bar(keras, monkeypatch, target, stateful):
    from keras.src.utils import progbar as keras_progbar
    theirs = _plain(_run(lambda: keras.utils.Progbar(target, stateful_metrics=stateful), keras_progbar, "time",
                         CALLS, monkeypatch=monkeypatch))
    ours = _run(lambda: Progbar(target, stateful_metrics=stateful), progress, "perf_counter", CALLS,
                monkeypatch=monkeypatch)
    # glassnet draws fit's bar, [====....], where Keras draws 20 "━" (green, then grey)
    bars = re.findall(r"\[(=*)(\.*)\]", ours)
    assert re.sub(r"\[[=.]+\]", "BAR", ours) == re.sub("━+", "BAR", theirs)
    if target is not None:
        counts = [int(m) for m in re.findall(r"\r\s*(\d+)/10", ours)]
        assert [len(done) for done, _ in bars] == [int(20 * c / 10) for c in counts]
        assert all(len(done) + len(left) == 20 for done, left in bars)
    else:
        assert bars == [] and "     10/Unknown" in ours


def test_verbose_2_writes_keras_line_once(keras, monkeypatch):
    from keras.src.utils import progbar as keras_progbar
    theirs = _run(lambda: keras.utils.Progbar(10, verbose=2, stateful_metrics=["acc"]), keras_progbar, "time",
                  CALLS[:5], monkeypatch=monkeypatch)
    ours = _run(lambda: Progbar(10, verbose=2, stateful_metrics=["acc"]), progress, "perf_counter", CALLS[:5],
                monkeypatch=monkeypatch)
    assert ours == theirs == "10/10 - 2s - 278ms/step - loss: 0.2500 - acc: 0.9000\n"


# counts of steps that are floats (fractions of an epoch), which Keras takes as they are
FLOAT_CALLS = [(10.0, "update", (0.5,), {"values": [("loss", 0.5)]}),
               (10.5, "update", (2.5,), {"values": [("loss", 0.3)]}),
               (11.0, "add", (1.25,), {"values": [("loss", 0.2)]}),
               (11.7, "update", (np.float64(7.75),), {"values": [("loss", 1e-5)]}),
               (12.5, "update", (10.0,), {"values": [("loss", 0.25)]})]


@pytest.mark.parametrize("target", [10, None])
def test_a_float_count_of_steps_writes_keras_text(keras, monkeypatch, target):
    # glassnet refused update(2.5) ("expected a non-negative integer"); Keras 3.15 counts 2.5
    # steps: " 2/10" (its %d), the bar a quarter full, values weighted by 2.0, 1.25, ... steps
    from keras.src.utils import progbar as keras_progbar
    theirs = _plain(_run(lambda: keras.utils.Progbar(target), keras_progbar, "time", FLOAT_CALLS,
                         monkeypatch=monkeypatch))
    ours = _run(lambda: Progbar(target), progress, "perf_counter", FLOAT_CALLS, monkeypatch=monkeypatch)
    assert re.sub(r"\[[=.]+\]", "BAR", ours) == re.sub("━+", "BAR", theirs)
    if target is not None:
        assert "\r 2/10 [=====...............] 1s 200ms/step - loss: 0.3667" in ours
        assert [len(done) for done in re.findall(r"\[(=*)", ours)] == [1, 5, 7, 15, 20]
        theirs = _run(lambda: keras.utils.Progbar(target, verbose=2), keras_progbar, "time", FLOAT_CALLS,
                      monkeypatch=monkeypatch)
        ours = _run(lambda: Progbar(target, verbose=2), progress, "perf_counter", FLOAT_CALLS,
                    monkeypatch=monkeypatch)
        assert ours == theirs == "10/10 - 2s - 250ms/step - loss: 0.2500\n"
    else:
        assert "\r      7/Unknown 2s 219ms/step - loss: 0.1636" in ours


def test_values_are_averaged_over_steps_and_stateful_ones_shown_as_given(monkeypatch):
    text = _run(lambda: Progbar(10, stateful_metrics=["acc"]), progress, "perf_counter", CALLS[:4],
                monkeypatch=monkeypatch)
    last = text.split("\r")[-1]
    # loss: 0.5 over 1 step, 0.3 over 2, 0.2 over 2, 1e-5 over 3: 1.50003 / 8
    assert "loss: 0.1875 " in last and last.rstrip().endswith("acc: 0.8100")
    # the time per step leaves the first step out: (11.7 - 10.0) / 7 steps
    assert " 243ms/step " in last and last.startswith(" 8/10 [================....] 0s")
    bar = Progbar(None, verbose=0)
    bar.update(4, [("loss", np.array([1.0, 3.0]))])      # an array: its mean, 2.0 over 4 steps
    bar.update(5, [("loss", 7.0)])
    assert bar._shown_values() == " - loss: 3.0000"    # (2 * 4 + 7) / 5


def test_into_a_file_only_the_last_line_and_verbose_0_nothing(monkeypatch):
    text = _run(lambda: Progbar(10), progress, "perf_counter", CALLS[:5], terminal=False, monkeypatch=monkeypatch)
    # the last update (10 of 10) shows the values it is given, as Keras' (fit gives it the averages)
    assert text == "10/10 [====================] 2s 278ms/step - loss: 0.2500 - acc: 0.9000\n"
    assert _run(lambda: Progbar(10, verbose=0), progress, "perf_counter", CALLS, monkeypatch=monkeypatch) == ""
    # an unknown target: the line of finalize=True, in both verbose modes (Keras' verbose=2 writes none)
    text = _run(lambda: Progbar(None, verbose=2), progress, "perf_counter", CALLS, terminal=False,
                monkeypatch=monkeypatch)
    assert text == "10 - 3s - 333ms/step - loss: 0.4000 - acc: 0.7970\n"


def test_redraws_wait_for_the_interval_and_blank_a_longer_line(monkeypatch):
    calls = [(10.0, "update", (1,), {"values": [("loss", 123456.0)]}),
             (10.01, "update", (2,), {"values": [("loss", 1.0)]}),       # within 0.05 s: counted, not drawn
             (10.2, "update", (3,), {"values": [("loss", 1.0)]})]
    text = _run(lambda: Progbar(100, unit_name="batch", stateful_metrics=["loss"]), progress, "perf_counter", calls,
                monkeypatch=monkeypatch)
    lines = text.split("\r")[1:]
    assert len(lines) == 2 and "  2/100" not in text
    assert lines[0].endswith("loss: 123456.0000") and "ms/batch" in lines[1]
    assert len(lines[1]) == len(lines[0]) and lines[1].endswith("loss: 1.0000  ")   # padded to the longer


def test_time_formats():
    assert [progress._eta(s) for s in (3725.5, 125.9, 12.7, 0.0)] == ["1:02:05", "2:05", "12s", "0s"]
    assert [progress._per_unit(s, "step") for s in (0, 2.4, 0.0123, 4.5e-5)] == \
        [" 0s/step", " 2s/step", " 12ms/step", " 45us/step"]
    assert [progress._number(v) for v in (0.25, -0.5, 1e-5, 0.0)] == ["0.2500", "-0.5000", "1.0000e-05", "0.0000e+00"]


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="target"):
        Progbar(-1)
    with pytest.raises(ValueError, match="width"):
        Progbar(10, width=0)
    with pytest.raises(ValueError, match="verbose"):
        Progbar(10, verbose=3)
    with pytest.raises(ValueError, match="interval"):
        Progbar(10, interval=-1)
    with pytest.raises(ValueError, match="not both"):
        Progbar(10, stateful_metrics=["a"], stateless_metrics=["b"])
    with pytest.raises(TypeError, match="stateful_metrics"):
        Progbar(10, stateful_metrics="acc")
    bar = Progbar(10, verbose=0)
    for current in (-0.5, float("nan"), float("inf"), True, "3"):
        with pytest.raises(ValueError, match="current: expected a number of steps >= 0"):
            bar.update(current)
    with pytest.raises(TypeError, match="pairs"):
        bar.update(2, {"loss": 0.5})
    with pytest.raises(TypeError, match="'loss' must be a number"):
        bar.update(2, [("loss", "low")])
    with pytest.raises(ValueError, match="n"):
        bar.add(-1)
