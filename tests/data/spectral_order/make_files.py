"""Writes the glassnet files of tests/test_keras_files3.py's SpectralNormalization order check, with
the glassnet from before SpectralNormalization's get_weights took Keras' order (vector_u last):

    PYTHONPATH=<an older glassnet's src> python make_files.py

model.npz: a compiled, trained model (Adam state); weights.npz: its save_weights; expected.npz: its
predictions, its get_weights in that older order (w0, w1, ...), and its predictions after one more
epoch of fit on the same data (after_fit), which the current glassnet must reproduce from the file.
"""
import os

import numpy as np

import glassnet as gn

here = os.path.dirname(os.path.abspath(__file__))
L = gn.layers
x = gn.Input((6, 2))
h = L.SpectralNormalization(L.Conv1D(3, 2), power_iterations=2)(x)
out = L.SpectralNormalization(L.Dense(2))(L.Flatten()(h))
model = gn.Model(x, out, seed=0)
model.compile(optimizer=gn.optimizers.Adam(0.01), loss="mse")
rng = np.random.default_rng(0)
X, Y = rng.normal(size=(16, 6, 2)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")
model.fit(X, Y, epochs=2, batch_size=4, shuffle=False, verbose=0)
model.save(os.path.join(here, "model.npz"))
model.save_weights(os.path.join(here, "weights.npz"))
predicted = model.predict(X, verbose=0)
weights = {f"w{k}": w for k, w in enumerate(model.get_weights())}
model.fit(X, Y, epochs=1, batch_size=4, shuffle=False, verbose=0)
np.savez(os.path.join(here, "expected.npz"), X=X, Y=Y, predicted=predicted, after_fit=model.predict(X, verbose=0),
         **weights)
