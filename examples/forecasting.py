"""After Seed 004's layers: forecasting the next value of a series from its last 32 (windows, LSTM).

The series is two sines (periods 50 and 13 steps) plus noise (standard deviation 0.1), 3,000 steps:
the first 2,000 train, the next 500 validate, the last 500 test. ``timeseries_dataset_from_array``
(Keras') serves windows of 32 steps and the value after each, cutting each batch's windows from
the series when the batch is read (``start_index``/``end_index`` pick each part), so the windows,
which repeat every step 32 times, are never all in memory.

Four forecasters are scored by their mean absolute error on the test windows:

- the last value of the window (no training): what a forecaster must beat;
- ``Flatten`` + ``Dense(1)``: a linear mix of the 32 values (an autoregressive model);
- ``LSTM(16)`` + ``Dense(1)``: reads the window step by step;
- dilated causal convolutions (WaveNet's stack): five ``Conv1D(16, 2, padding="causal")`` with
  dilation rates 1, 2, 4, 8, 16, whose last step sees all 32 values, then ``Dense(1)`` on it.

The networks train with Adam (lr 5e-3, batch 32, 20 epochs; 6 with ``--quick``), validated on the
middle part every epoch. The noise alone leaves an error of about 0.08 (the mean absolute value of
a normal with standard deviation 0.1) that no forecaster can remove. The script prints each error
and the seconds per epoch, and writes the LSTM's learning curve.

    python examples/forecasting.py            # 20 epochs
    python examples/forecasting.py --quick    # 6 epochs
"""
import argparse
import os
import time

import numpy as np

import glassnet as gn
from glassnet import plot
from glassnet.layers import LSTM, Conv1D, Cropping1D, Dense, Flatten
from glassnet.utils import timeseries_dataset_from_array

WINDOW, STEPS, TRAIN_END, VALIDATION_END = 32, 3000, 2000, 2500
EPOCHS, QUICK_EPOCHS = 20, 6


def make_series(rng):
    """(STEPS, 1): two sines and noise."""
    t = np.arange(STEPS)
    signal = np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 13)
    return (signal + 0.1 * rng.standard_normal(STEPS)).astype(np.float32)[:, None]


def windows(series, start, end):
    """The windows of ``series[start:end]`` and the value after each, batch by batch. The targets
    are the series shifted by the window: window i (steps i to i + 31) has the value at i + 32."""
    return timeseries_dataset_from_array(series, series[WINDOW:, 0], sequence_length=WINDOW, batch_size=32,
                                         start_index=start, end_index=end)


def forecaster(kind, seed=0):
    if kind == "LSTM":
        reader = [LSTM(16)]
    elif kind == "causal":      # each layer doubles how far back the last step sees: 2, 4, ..., 32 steps
        reader = [*(Conv1D(16, 2, padding="causal", dilation_rate=d, activation="relu") for d in (1, 2, 4, 8, 16)),
                  Cropping1D((WINDOW - 1, 0)), Flatten()]       # the last step's 16 features
    else:
        reader = [Flatten()]
    network = gn.Sequential([gn.Input((WINDOW, 1)), *reader, Dense(1)], seed=seed)
    network.compile(loss="mse", optimizer=gn.optimizers.Adam(5e-3), metrics=["mae"])
    return network


def main(quick=False, out=None):
    out = out or os.path.join("runs", "forecasting")
    series = make_series(np.random.default_rng(0))
    epochs = QUICK_EPOCHS if quick else EPOCHS
    train, validation = windows(series, 0, TRAIN_END), windows(series, TRAIN_END, VALIDATION_END)
    test = windows(series, VALIDATION_END, STEPS)      # its last window has no value after it: left out
    last_values = np.concatenate([x[:, -1, 0] for x, _ in (test[i] for i in range(len(test)))])
    truth = np.concatenate([y for _, y in (test[i] for i in range(len(test)))])
    results = {"last value": {"test_mae": float(np.abs(last_values - truth).mean())}}
    print(f"{'forecaster':<16} {'test MAE':>9} {'s/epoch':>8}")
    print(f"{'last value':<16} {results['last value']['test_mae']:>9.3f} {'-':>8}")
    for kind in ("Flatten + Dense", "LSTM", "causal Conv1D"):
        network = forecaster({"LSTM": "LSTM", "causal Conv1D": "causal"}.get(kind, "dense"))
        start = time.perf_counter()
        history = network.fit(train, epochs=epochs, validation_data=validation, verbose=0)
        seconds = (time.perf_counter() - start) / epochs
        mae = float(np.abs(network.predict(test)[:, 0] - truth).mean())
        results[kind] = {"test_mae": mae, "seconds_per_epoch": seconds,
                         "val_mae": history.history["val_mae"][-1]}
        print(f"{kind:<16} {mae:>9.3f} {seconds:>8.3f}")
        if kind == "LSTM":
            os.makedirs(out, exist_ok=True)
            plot.learning_curve(history, path=os.path.join(out, "learning_curve_forecaster.png"))
    return results


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer epochs")
    parser.add_argument("--out", help="output folder (default runs/forecasting)")
    args = parser.parse_args()
    main(quick=args.quick, out=args.out)
