"""Keras 3.15's ``keras.datasets.<name>.load_data()``: one module per dataset, read through ``get_file``.

Each module has Keras' signatures, defaults, origins, file names and hashes, and returns the same
arrays (dtypes, shapes, order, shuffles). Files are downloaded only when missing from the Keras cache
(``$KERAS_HOME`` or ``~/.keras``, shared with Keras); parsing never runs code from a file.
"""
