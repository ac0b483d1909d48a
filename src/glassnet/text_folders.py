"""Text files in class folders as batches: Keras' ``text_dataset_from_directory``, as a ``PyDataset``
that reads each batch's files when the batch is read.

    reviews/
        neg/  1.txt 2.txt ...
        pos/  3.txt ...

gives class names ``["neg", "pos"]`` (the sub-folders, sorted), labels 0 and 1, and each file's
whole text as a str (NumPy arrays of str, one text per sample), for a model that starts with a
``TextVectorization``. The ``.txt`` files are listed, shuffled once and split exactly as Keras does
(the listing is ``image_dataset_from_directory``'s, with Keras' ``formats=(".txt",)``), so the same
folder gives the same files, labels and batches as Keras without shuffling (which ``fit`` reads in that
order, as Keras' fit reads its tf.data Dataset); with ``shuffle=True``
Keras also reshuffles the files inside TensorFlow, draws NumPy cannot reproduce, and ``fit`` here
shuffles the order of the batches each epoch instead. A ``validation_split`` that leaves no
validation file is refused (Keras gives its validation subset every file).
"""
import numpy as np

from .image_folders import FolderDataset, listed_files, returned


class TextFolderDataset(FolderDataset):
    """The batches of ``text_dataset_from_directory``: ``(texts, labels)``, texts an object array of
    str (batch,), or the texts alone with ``label_mode=None``. ``file_paths``, ``labels`` and
    ``class_names`` say what it serves, in order."""

    def __init__(self, file_paths, labels, class_names, label_mode, batch_size, max_length):
        super().__init__(file_paths, labels, class_names, label_mode, batch_size)
        self.max_length = max_length

    def load(self, path):
        """One file's text (UTF-8), cut to its first ``max_length`` bytes when given (Keras' unit);
        a character that the cut splits is left out."""
        with open(path, "rb") as f:
            raw = f.read() if self.max_length is None else f.read(self.max_length)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            # a character the cut split in two, at the very end: left out; anything else is no UTF-8
            if self.max_length is not None and exc.reason == "unexpected end of data" and exc.end == len(raw):
                return raw[:exc.start].decode("utf-8")
            raise ValueError(f"text_dataset_from_directory: {path} is not UTF-8 text ({exc})") from None

    def batch(self, paths):
        # an object array: a str array would be as wide as the longest text times every text
        texts = np.empty(len(paths), dtype=object)
        texts[:] = [self.load(path) for path in paths]
        return texts


def text_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                max_length=None, shuffle=True, seed=None, validation_split=None, subset=None,
                                follow_links=False, verbose=True):
    """Keras' ``text_dataset_from_directory``: a ``TextFolderDataset`` (or, with
    ``subset="both"``, the training and the validation one) of the ``.txt`` files below
    ``directory``, one sub-folder per class. ``labels``: "inferred" (from the sub-folders), None, or
    a list of integer labels, one per file below ``directory`` in the order of their paths;
    ``label_mode`` "int" (labels (n,)), "categorical" (one-hot), "binary" ((n, 1) floats, two
    classes) or None; ``max_length``: at most this many bytes of each file. ``batch_size=None`` is
    refused: glassnet serves batches.

    >>> train, val = text_dataset_from_directory("reviews", validation_split=0.2, subset="both",
    ...                                          seed=1)                          # doctest: +SKIP
    >>> vectorizer.adapt(text for text, _ in train)                              # doctest: +SKIP
    >>> model.fit(train, validation_data=val, epochs=10)                         # doctest: +SKIP
    """
    where = "text_dataset_from_directory"
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, (int, np.integer))
                                   or max_length < 1):
        raise ValueError(f"{where}: max_length must be a positive integer or None, got {max_length!r:.40}")
    names, label_mode, parts = listed_files(where, directory, labels, label_mode, class_names, batch_size, shuffle,
                                            seed, validation_split, subset, follow_links, verbose, (".txt",),
                                            "text files")
    datasets = tuple(TextFolderDataset(paths, targets, names, label_mode, int(batch_size), max_length)
                     for paths, targets in parts)
    return returned(datasets, subset, shuffle)
