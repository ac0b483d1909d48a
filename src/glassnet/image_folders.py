"""Images in class folders as batches: Keras' ``image_dataset_from_directory``, as a ``PyDataset``
that opens and resizes each batch's files when the batch is read, so a folder of photos larger than
memory trains as arrays would. Needs Pillow (``pip install "glassnet[plot]"``).

    photos/
        cats/  a.jpg b.png ...
        dogs/  c.jpg ...

gives class names ``["cats", "dogs"]`` (the sub-folders, sorted), labels 0 and 1, and images of
``image_size`` (height, width) as float32 values 0-255, channels last. The files are listed as
Keras lists them (each class's folder walked in sorted order, its sub-folders included), shuffled
once with ``numpy.random.RandomState(seed)`` as Keras does, and split by ``validation_split``
(the last fraction for validation), so the same folder gives the same files and labels in the same
batches as Keras. Images are decoded with Pillow (as Keras' ``format="grain"`` does) and resized with
TensorFlow's sampler (``glassnet.layers.Resizing``'s, tested against Keras). Keras' default
decoding, TensorFlow's, gives the same pixels for PNG, BMP and GIF in RGB(A); JPEG pixels are those
of TensorFlow's ``decode_jpeg(dct_method="INTEGER_ACCURATE")`` (libjpeg's accurate inverse DCT,
Pillow's), but Keras decodes with TensorFlow's default, libjpeg's fast one, so they differ from
Keras' by a few levels in files of quality 75 or less and by more in high-quality ones (up to 15 at
quality 95 and 73 at quality 100 on random pixels; smooth photos differ less); grayscale from colour
files differs by up to 1 (Pillow's rounding of the luma); a 16-bit PNG is brought to 8 bits as
TensorFlow does. TensorFlow refuses some format and colour-mode pairs (GIF or BMP in grayscale, JPEG
in RGBA) that Pillow decodes. A file Pillow cannot read (not an image, cut short) is named when its
batch is read: a ValueError (Keras' TensorFlow error names no file). A ``validation_split`` that
leaves no validation file is refused (Keras gives its validation subset every file).
"""
import numbers
import os

import numpy as np

from ._validation import check_choice, check_shuffle_seed
from .feeding import PyDataset

FORMATS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")
CHANNELS = {"rgb": ("RGB", 3), "rgba": ("RGBA", 4), "grayscale": ("L", 1)}
LABEL_MODES = ("int", "categorical", "binary", None)


def _files(directory, class_names, follow_links, labelled=True, formats=FORMATS,
           where="image_dataset_from_directory"):
    """(paths, labels, class names) of the files below ``directory`` whose names end with one of
    ``formats``, in Keras' order: each class folder's, or without labels every such file below
    ``directory`` (hidden folders too, as Keras)."""
    if not labelled:
        subdirs = [""]
    else:
        subdirs = sorted(d for d in os.listdir(directory)
                         if os.path.isdir(os.path.join(directory, d)) and not d.startswith("."))
    if class_names is not None:
        if not set(class_names) <= set(subdirs):
            raise ValueError(f"{where}: class_names {list(class_names)} are not among the "
                             f"sub-folders of {directory!r}: {subdirs}")
        subdirs = list(class_names)
    paths, labels = [], []
    for label, subdir in enumerate(subdirs):
        walk = os.walk(os.path.join(directory, subdir), followlinks=follow_links)
        for root, _, files in sorted(walk, key=lambda entry: entry[0]):
            for name in sorted(files):
                if name.lower().endswith(formats):
                    paths.append(os.path.join(root, name))
                    labels.append(label)
    return paths, np.asarray(labels, dtype=np.int32), subdirs if labelled else None


class FolderDataset(PyDataset):
    """What the folder datasets (images, texts, audio) share: the files, their labels and class
    names, served ``batch_size`` files at a time, each batch ``(x, labels)`` as ``with_labels``
    makes it (x alone with ``label_mode=None``). A subclass makes one batch's x from its files'
    paths (``batch``), reading them only then."""

    def __init__(self, file_paths, labels, class_names, label_mode, batch_size):
        super().__init__()
        # set by the *_dataset_from_directory functions: made with shuffle=False, fit reads the
        # batches in order, as Keras' fit reads the tf.data Dataset Keras returns (glassnet.feeding)
        self.served_in_order = False
        self.file_paths, self.labels, self.class_names = list(file_paths), labels, class_names
        self.label_mode, self.batch_size = label_mode, batch_size

    def __len__(self):
        return -(-len(self.file_paths) // self.batch_size)

    def batch(self, paths):
        """The x of the batch of the files ``paths``."""
        raise NotImplementedError

    def __getitem__(self, index):
        if not 0 <= index < len(self):
            raise IndexError(f"{type(self).__name__}: batch {index} of {len(self)}")
        rows = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return with_labels(self.batch(self.file_paths[rows]), self.labels[rows], self.label_mode, self.class_names)


class ImageFolderDataset(FolderDataset):
    """The batches of ``image_dataset_from_directory``: ``(images, labels)`` with images float32
    (batch, height, width, channels), or the images alone with ``label_mode=None``.
    ``file_paths``, ``labels`` and ``class_names`` say what it serves, in order."""

    def __init__(self, file_paths, labels, class_names, label_mode, image_size, color_mode, batch_size,
                 interpolation, crop_to_aspect_ratio):
        super().__init__(file_paths, labels, class_names, label_mode, batch_size)
        self.image_size = tuple(image_size)
        self.color_mode, self.interpolation, self.crop_to_aspect_ratio = color_mode, interpolation, crop_to_aspect_ratio

    def load(self, path):
        """One image file as float32 (height, width, channels), resized to ``image_size``."""
        from PIL import Image

        from .layers.resizing import resize     # here: import glassnet needs no layer module it can do without
        mode, channels = CHANNELS[self.color_mode]
        try:
            with Image.open(path) as image:
                if image.mode.startswith("I"):      # 16-bit: to 8 bits as TensorFlow's decoder does (v >> 8);
                    values = np.asarray(image, dtype=np.int64)                                  # Pillow clips
                    eight = Image.fromarray(np.clip(values >> 8, 0, 255).astype(np.uint8), "L")
                    transparent = image.info.get("transparency")
                    if isinstance(transparent, int):          # a transparent grey level: alpha 0 there
                        eight.putalpha(Image.fromarray(((values != transparent) * 255).astype(np.uint8)))
                    image = eight
                pixels = np.asarray(image.convert(mode), dtype=np.float32)
                pixels = pixels.reshape(image.height, image.width, channels)
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
            # Pillow's words for a cut-short file ("image file is truncated") name no file, and a folder
            # of thousands (keras.io's cats and dogs) holds a few broken ones: say which to remove (an
            # image of more pixels than Pillow's MAX_IMAGE_PIXELS, its decompression-bomb guard, too)
            raise ValueError(f"image_dataset_from_directory: cannot read {path} as an image ({exc})") from exc
        height, width = self.image_size
        out, _ = resize(pixels[None], height, width, self.interpolation, self.crop_to_aspect_ratio)
        return out[0]

    def batch(self, paths):
        return np.stack([self.load(path) for path in paths])


def with_labels(x, labels, label_mode, class_names):
    """A batch as Keras' folder datasets serve it: ``x`` alone (``label_mode=None``), or ``(x, labels)``
    with labels int32 (n,) for "int", one-hot float32 for "categorical", float32 (n, 1) for "binary"."""
    if label_mode is None:
        return x
    if label_mode == "categorical":
        return x, np.eye(len(class_names), dtype=np.float32)[labels]
    if label_mode == "binary":
        return x, labels.astype(np.float32)[:, None]
    return x, labels


def image_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None,
                                 color_mode="rgb", batch_size=32, image_size=(256, 256), shuffle=True, seed=None,
                                 validation_split=None, subset=None, interpolation="bilinear", follow_links=False,
                                 crop_to_aspect_ratio=False, pad_to_aspect_ratio=False, verbose=True):
    """Keras' ``image_dataset_from_directory``: an ``ImageFolderDataset`` (or, with
    ``subset="both"``, the training and the validation one) of the images below ``directory``, one
    sub-folder per class. ``labels``: "inferred" (from the sub-folders), None, or a list of integer
    labels, one per image below ``directory`` in the order of their paths (class names: the sorted
    labels, as str); ``label_mode`` "int" (labels (n,)), "categorical" (one-hot), "binary" ((n, 1)
    floats, two classes) or None; ``color_mode`` "rgb", "rgba" or "grayscale"; ``interpolation`` one of
    Keras' eight, TensorFlow's kernels: "bilinear", "nearest", "bicubic", "area", "lanczos3",
    "lanczos5", "gaussian", "mitchellcubic" (Keras 3.15 refuses the last two with
    ``crop_to_aspect_ratio``, its crop going through its backend's resize; glassnet takes them);
    ``pad_to_aspect_ratio`` is not implemented. With ``shuffle=False`` fit reads the batches in order,
    whatever its ``shuffle``, as Keras' fit reads the tf.data Dataset Keras returns. Shuffling is Keras'
    first one, of the file list, once;
    ``fit(shuffle=True)`` then shuffles the batches' order each epoch with the model's seed (Keras
    also reshuffles files inside TensorFlow, draws NumPy cannot reproduce). ``batch_size=None`` is
    refused: glassnet serves batches.

    >>> train, val = image_dataset_from_directory("photos", image_size=(64, 64), validation_split=0.2,
    ...                                           subset="both", seed=1)          # doctest: +SKIP
    >>> model.fit(train, validation_data=val, epochs=10)                         # doctest: +SKIP
    """
    where = "image_dataset_from_directory"
    check_choice(color_mode, f"{where}: color_mode", CHANNELS)
    if isinstance(image_size, (int, np.integer)):
        image_size = (image_size, image_size)
    # NumPy integers too (a size from an array or a search grid), as Keras takes them
    if (not isinstance(image_size, (tuple, list)) or len(image_size) != 2
            or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in image_size)):
        raise ValueError(f"{where}: image_size must be (height, width), two positive integers, got {image_size!r:.60}")
    image_size = tuple(int(s) for s in image_size)
    from .layers.resizing import FOLDER_INTERPOLATIONS      # here: import glassnet needs no layer module
    check_choice(interpolation, f"{where}: interpolation", FOLDER_INTERPOLATIONS)
    if pad_to_aspect_ratio:         # TensorFlow's resize_with_pad places the image otherwise than Resizing does
        raise ValueError(f"{where}: pad_to_aspect_ratio is not implemented (crop_to_aspect_ratio is)")
    names, label_mode, parts = listed_files(where, directory, labels, label_mode, class_names, batch_size, shuffle,
                                            seed, validation_split, subset, follow_links, verbose, FORMATS, "images")
    settings = (names, label_mode, image_size, color_mode, int(batch_size), interpolation, crop_to_aspect_ratio)
    datasets = tuple(ImageFolderDataset(paths, targets, *settings) for paths, targets in parts)
    return returned(datasets, subset, shuffle)


def returned(datasets, subset, shuffle):
    """What a ``*_dataset_from_directory`` function returns: both datasets with ``subset="both"``,
    else the one. Made with ``shuffle=False``, each is read in order by ``fit``, as Keras' fit reads
    the tf.data Dataset Keras returns (``FolderDataset.served_in_order``)."""
    for dataset in datasets:
        dataset.served_in_order = not shuffle
    return datasets if subset == "both" else datasets[0]


def _given_labels(labels, where):
    """``labels`` when it is a list of integer labels (one per file), as an int32 array; None when it
    is "inferred" or None; a ValueError naming it otherwise."""
    # by type first: a list or an array's == is elementwise (NumPy's truth-value error, naming nothing)
    if labels is None or isinstance(labels, str) and labels == "inferred":
        return None
    given = None
    if not isinstance(labels, (str, bytes, dict)) and hasattr(labels, "__len__"):
        try:
            given = np.asarray(labels)
        except ValueError:          # lists of lists of different lengths: NumPy's words name no argument
            pass
    if (given is None or given.ndim != 1
            or len(given) and (given.dtype.kind not in "iu" or given.min() < 0 or given.max() > 2 ** 31 - 1)):
        raise ValueError(f"{where}: labels must be 'inferred' (one sub-folder per class), None or a list of integer "
                         f"labels >= 0 (one per file, in the order of the files' paths), got {labels!r:.60}")
    return given.astype(np.int32)


def listed_files(where, directory, labels, label_mode, class_names, batch_size, shuffle, seed, validation_split,
                 subset, follow_links, verbose, formats, kind):
    """What Keras' ``image_dataset_from_directory``, ``text_dataset_from_directory`` and
    ``audio_dataset_from_directory`` share: their common arguments checked, the files listed and
    labelled (from the sub-folders, or by a list of labels), shuffled once with
    ``numpy.random.RandomState(seed)``, and split. Returns ``(class_names, label_mode, parts)``,
    ``parts`` one ``(paths, labels)`` pair, or two (training, validation) for ``subset="both"``."""
    if not os.path.isdir(directory):
        raise ValueError(f"{where}: directory {directory!r} is not a folder")
    given = _given_labels(labels, where)
    check_choice(label_mode, f"{where}: label_mode", LABEL_MODES)
    if given is not None and class_names is not None:
        raise ValueError(f"{where}: class_names need labels='inferred' (with a list of labels the class names are "
                         f"the sorted labels, as in Keras)")
    if class_names is not None and (isinstance(class_names, str) or not isinstance(class_names, (list, tuple))
                                    or not all(isinstance(name, str) for name in class_names)):
        # ("cats" would be read as the classes c, a, t, s; 5 failed in set() naming nothing)
        raise TypeError(f"{where}: class_names must be a list of the sub-folders' names (str), got "
                        f"{class_names!r:.80}")
    if labels is None or label_mode is None:        # either means no labels, as in Keras
        labels = label_mode = given = None
        if class_names is not None:
            raise ValueError(f"{where}: class_names need labels='inferred' (with labels=None the files are not "
                             f"sorted into classes)")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{where}: batch_size must be a positive integer (glassnet serves batches), got "
                         f"{batch_size!r:.40}")
    # a fraction: a str ("0.2" from a config file) would fail in the comparison, naming nothing;
    # 0 means no split, as in Keras (its checks and its split all test `if validation_split`)
    if validation_split is not None and (isinstance(validation_split, bool) or not isinstance(
            validation_split, numbers.Real) or not 0 <= validation_split < 1):
        raise ValueError(f"{where}: validation_split must be between 0 and 1, got {validation_split!r:.40}")
    # subset checked first: bool() of an array is NumPy's truth-value error
    check_choice(subset, f"{where}: subset", ("training", "validation", "both", None),
                 expected="'training', 'validation' or 'both'")
    if bool(validation_split) != bool(subset):
        raise ValueError(f"{where}: give validation_split and subset together (subset: 'training', "
                         f"'validation' or 'both')")
    if validation_split and shuffle and seed is None:
        raise ValueError(f"{where}: a validation split of shuffled files needs a seed, so that the training and "
                         f"the validation call split the same order (as Keras)")
    if shuffle:                                 # only read when shuffling, as in Keras
        check_shuffle_seed(seed, where)
    inferred = labels is not None and given is None
    paths, targets, names = _files(directory, class_names, follow_links, inferred, formats, where)
    if given is not None:
        # Keras' order: the labels belong to the files as listed without classes (every file below the folder)
        if len(given) != len(paths):
            raise ValueError(f"{where}: labels must hold one label per file, got {len(given)} labels for the "
                             f"{len(paths)} files found in {directory!r}")
        targets, names = given, [str(value) for value in sorted(set(given.tolist()))]
        if label_mode in ("categorical", "binary") and len(given) and given.max() >= len(names):
            # Keras' one-hot of such a label is a row of zeros, its binary label a 2.0 or 5.0: neither trains
            raise ValueError(f"{where}: label_mode={label_mode!r} needs the labels to run 0, 1, ... (one per class), "
                             f"got the labels {names}")
    if label_mode == "binary" and len(names or ()) != 2:
        raise ValueError(f"{where}: label_mode='binary' needs exactly 2 classes, got {names}")
    if verbose:
        print(f"Found {len(paths)} files" + ("." if names is None else f" belonging to {len(names)} classes."))
    if shuffle:
        order = np.arange(len(paths))
        np.random.RandomState(np.random.randint(1e6) if seed is None else seed).shuffle(order)
        paths, targets = [paths[i] for i in order], targets[order]

    held = int(validation_split * len(paths)) if validation_split else 0
    if validation_split and paths and not held:
        # checked for every subset: "training" alone would otherwise train on every file, split or not
        raise ValueError(f"{where}: validation_split={validation_split} of {len(paths)} files leaves no validation "
                         f"file (Keras gives its validation subset every file): give a larger validation_split")

    def part(which):
        chosen_paths, chosen = paths, targets
        if validation_split:
            cut = len(paths) - held
            chosen_paths, chosen = (paths[:cut], targets[:cut]) if which == "training" else (paths[cut:], targets[cut:])
            if verbose:
                print(f"Using {len(chosen_paths)} files for {which}.")
        if not chosen_paths:
            raise ValueError(f"{where}: no {which + ' ' if validation_split else ''}{kind} found in {directory!r} "
                             f"(formats {', '.join(formats)})")
        return chosen_paths, chosen

    parts = (part("training"), part("validation")) if subset == "both" else (part(subset or "training"),)
    return names, label_mode, parts
