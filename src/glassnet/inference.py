"""The inference side of ``Sequential``: evaluate, test_on_batch, predict, predict_on_batch.

Forward passes in inference mode (Dropout off, BatchNormalization on its moving statistics), no
gradients, no update. Kept apart from training.py, whose checks and loss helpers it uses, so that
each file reads in one sitting.
"""
import numpy as np

from ._validation import check_positive_int, check_verbose
from .weighting import check_sample_weight


class InferenceMixin:

    def _metric_values(self, y, out):
        """Each compiled metric on targets ``y`` and outputs ``out``, called as ``f(y_true, y_pred)``."""
        return [fn(y, out) for _, fn in self.metrics]

    def _results(self, values, return_dict):
        """``values`` ([loss, *metrics]) as the public calls return them: the loss alone without
        metrics, the list with them, a dict {"loss": ..., metric name: ...} with ``return_dict``.
        Python floats, whatever a metric function returned (a NumPy scalar prints as np.float64(...))."""
        values = [float(v) for v in values]
        if return_dict:
            return dict(zip(["loss", *(name for name, _ in self.metrics)], values))
        return values if self.metrics else values[0]

    def _evaluate_arrays(self, x, y, batch_size, w=None):
        n = x.shape[0]
        bs = n if batch_size is None else batch_size
        totals = [0.0] * (1 + len(self.metrics))
        for start in range(0, n, bs):
            xb, yb = x[start:start + bs], y[start:start + bs]
            out = self._forward(xb, training=False)
            m = xb.shape[0]
            totals[0] += self._loss_from_output(out, yb, None if w is None else w[start:start + bs]) * m
            for i, v in enumerate(self._metric_values(yb, out), 1):
                totals[i] += v * m
        return [t / n for t in totals]

    def evaluate(self, x, y, batch_size=None, sample_weight=None, return_dict=False, verbose=0):
        """The loss on (x, y), or ``[loss, *metrics]`` when metrics were compiled (inference mode).

        ``sample_weight`` (n_samples,) weights the loss as in ``fit``; metrics stay unweighted.
        ``return_dict=True`` returns ``{"loss": ..., "accuracy": ...}`` (Keras). ``verbose`` 1, 2 or
        "auto" also prints them on one line (Keras' last line); the default, 0, prints nothing.

        >>> model.evaluate(X, y, return_dict=True)        # doctest: +SKIP
        {'loss': 0.31, 'accuracy': 0.9}
        """
        self._require_compiled("evaluate")
        batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
        verbose = check_verbose(verbose)
        x, y = self._prepare_xy(x, y)
        w = check_sample_weight(sample_weight, x.shape[0], self.dtype)
        values = self._evaluate_arrays(x, y, batch_size, w)
        if verbose:
            names = ["loss", *(name for name, _ in self.metrics)]
            print(" - ".join(f"{name}: {value:.4f}" for name, value in zip(names, values)))
        return self._results(values, return_dict)

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs (probabilities for sigmoid/softmax outputs), shape (n_samples, *output_shape).

        ``batch_size`` bounds memory for large inputs; ``None`` runs all samples at once.
        ``verbose`` is accepted as Keras' is (0, 1, 2 or "auto") and prints nothing: one forward
        pass has no progress worth a bar."""
        batch_size = check_positive_int(batch_size, "batch_size", allow_none=True)
        check_verbose(verbose)
        x = self._prepare_x(x)
        if batch_size is None or batch_size >= x.shape[0]:
            return self._forward(x, training=False)
        return np.concatenate([self._forward(x[i:i + batch_size], training=False)
                               for i in range(0, x.shape[0], batch_size)])

    def predict_on_batch(self, x):
        """The outputs for one batch ``x`` (n_samples, *input_shape), in a single forward pass in
        inference mode: ``predict`` without batching (Keras).

        >>> model.predict_on_batch(X[:4]).shape            # doctest: +SKIP
        (4, 1)
        """
        return self._forward(self._prepare_x(x), training=False)

    def test_on_batch(self, x, y, sample_weight=None, return_dict=False):
        """The loss on one batch (x, y) in inference mode, without an update: ``evaluate`` on a
        single batch. Returns the loss, ``[loss, *metrics]`` with metrics or a dict with
        ``return_dict``; ``sample_weight`` (n_samples,) weighs the loss, not the metrics.

        >>> model.test_on_batch(X[:32], y[:32])           # doctest: +SKIP
        [0.25, 0.9375]
        """
        self._require_compiled("test_on_batch")
        x, y = self._prepare_xy(x, y)
        w = check_sample_weight(sample_weight, x.shape[0], self.dtype)
        out = self._forward(x, training=False)
        value = self._loss_from_output(out, y, w)
        return self._results([value, *self._metric_values(y, out)], return_dict)
