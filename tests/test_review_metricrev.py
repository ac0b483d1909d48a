"""Review of compiled Metric objects updated in place (glassnet.metrics._claims, MetricTally):
when they are reset, against Keras 3.15, and runs in threads that share one object."""
import sys
import threading

import numpy as np

import glassnet as gn


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(96, 4)).astype(np.float32)
    y = (x[:, :1] + 0.3 * rng.normal(size=(96, 1)) > 0).astype(np.float32)
    xv = rng.normal(size=(30, 4)).astype(np.float32)
    return x, y, xv, (xv[:, :1] > 0).astype(np.float32)


def _peeks(lib, make, metric_class):
    """m.result() where Keras' loops have just reset the compiled objects: each epoch's begin, its
    first batch's begin, the first validation batch's begin and a later evaluate's first batch."""
    x, y, xv, yv = _data()
    seen = []
    m = metric_class(name="m")

    class Peek(lib.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            seen.append(("epoch_begin", epoch, float(m.result())))

        def on_train_batch_begin(self, batch, logs=None):
            if batch == 0:
                seen.append(("train_batch_begin", batch, float(m.result())))

        def on_test_batch_begin(self, batch, logs=None):
            if batch == 0:
                seen.append(("test_batch_begin", batch, float(m.result())))

    model = make()
    model.compile(loss="binary_crossentropy", optimizer="sgd", metrics=[m])
    model.fit(x, y, epochs=3, batch_size=32, validation_data=(xv, yv), verbose=0, callbacks=[Peek()])
    model.evaluate(x, y, batch_size=32, verbose=0, callbacks=[Peek()])
    return seen


def test_compiled_objects_read_zero_where_keras_resets_them(keras):
    # Keras 3.15 resets them before on_epoch_begin and before evaluate's first batch: a callback
    # reading the object there read the previous run's value (the last validation's)
    from keras import layers

    def make_keras():
        keras.utils.set_random_seed(0)
        return keras.Sequential([keras.Input((4,)), layers.Dense(6, activation="relu"),
                                 layers.Dense(1, activation="sigmoid")])

    def make_gn():
        return gn.Sequential([gn.layers.Dense(6, activation="relu", input_dim=4),
                              gn.layers.Dense(1, activation="sigmoid")], seed=0)

    for keras_class, gn_class in ((keras.metrics.AUC, gn.metrics.AUC), (keras.metrics.Precision, gn.metrics.Precision)):
        expected = _peeks(keras, make_keras, keras_class)
        got = _peeks(gn, make_gn, gn_class)
        assert [key for *key, _ in got] == [key for *key, _ in expected]
        np.testing.assert_allclose([v for *_, v in got], [v for *_, v in expected], atol=1e-6)


def test_one_object_compiled_into_models_fit_in_threads_logs_as_run_one_at_a_time():
    # a Dask sweep on threads whose build function compiles one module-level object into each
    # model: every run reset and updated the one object under the others' batches, so the
    # histories (and the sweep's metrics) changed with the threads' interleaving
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 4)).astype(np.float32)
    y = (x[:, :1] + 0.3 * rng.normal(size=(300, 1)) > 0).astype(np.float32)
    xv, yv = x[:60], y[:60]
    auc, precision = gn.metrics.AUC(num_thresholds=50), gn.metrics.Precision()

    def run(seed, into):
        model = gn.Sequential([gn.layers.Dense(8, activation="relu", input_dim=4),
                               gn.layers.Dense(1, activation="sigmoid")], seed=seed)
        model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.1), metrics=[auc, precision])
        history = model.fit(x, y, validation_data=(xv, yv), epochs=3, batch_size=8, verbose=0).history
        into[seed] = (history, model.evaluate(xv, yv, return_dict=True))

    alone = {}
    for seed in range(4):
        run(seed, alone)
    together = {}
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)         # threads switch often: the interleaving a long sweep meets
    try:
        threads = [threading.Thread(target=run, args=(seed, together)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert together == alone
