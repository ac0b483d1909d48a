"""WAV files in class folders as batches: Keras' ``audio_dataset_from_directory``, as a ``PyDataset``
that reads each batch's files when the batch is read, with Python's ``wave`` module (no new
dependency).

    speech/
        no/   a.wav b.wav ...
        yes/  c.wav ...

gives class names ``["no", "yes"]`` (the sub-folders, sorted), labels 0 and 1, and batches of audio
float32 (batch, samples, channels) in [-1, 1], as TensorFlow's ``decode_wav`` gives them to Keras.
The ``.wav`` files are listed, shuffled once and split as Keras does (the listing is
``image_dataset_from_directory``'s, with Keras' ``formats=(".wav",)``; other files are skipped), so
the same folder gives the same files, labels and batches as Keras without shuffling (which ``fit``
reads in that order, as Keras' fit reads its tf.data Dataset); with
``shuffle=True`` Keras also reshuffles the training files inside TensorFlow, draws NumPy cannot
reproduce, and ``fit`` here shuffles the order of the batches each epoch instead.

A batch is as long as its longest clip, the shorter ones padded with zeros at the end (Keras'
``padded_batch``); ``output_sequence_length`` cuts or pads every clip to that many samples instead.
Keras pads the channels too: a mono clip in a batch with a stereo one gets a silent second channel.

Samples: 16-bit PCM is read as TensorFlow reads it (value / 32768). TensorFlow reads nothing else;
glassnet also reads what ``wave`` reads: 8-bit (unsigned, (value - 128) / 128), 24-bit
(value / 2**23) and 32-bit (value / 2**31) integer PCM. Floating-point WAV is refused naming the
file, as is a truncated one.
"""
import numpy as np

from ._validation import check_flag, check_positive_int
from .image_folders import FolderDataset, listed_files, returned

WHERE = "audio_dataset_from_directory"


def read_wav(path, sampling_rate=None):
    """One WAV file's samples as float32 (samples, channels) in [-1, 1], and its sampling rate.
    ``sampling_rate`` (when given) must be the file's: glassnet does not resample."""
    import wave      # here: import glassnet reads no module it can do without

    try:
        with wave.open(str(path), "rb") as f:
            channels, width, rate, frames = f.getnchannels(), f.getsampwidth(), f.getframerate(), f.getnframes()
            raw = f.readframes(frames)
    except (wave.Error, EOFError) as exc:       # no RIFF/WAVE header, float samples, a cut header ...
        # (an exception is always true: its words, str(exc), are empty for the EOFError of a cut header)
        raise ValueError(f"{WHERE}: cannot read {path} as WAV of integer PCM samples ({str(exc) or 'cut short'})") \
            from None
    if width not in (1, 2, 3, 4):
        raise ValueError(f"{WHERE}: {path} holds {8 * width}-bit samples; 8-, 16-, 24- and 32-bit PCM are read")
    if len(raw) != frames * channels * width:
        raise ValueError(f"{WHERE}: {path} is cut short: its header promises {frames} frames, it holds "
                         f"{len(raw) // max(channels * width, 1)}")
    if sampling_rate is not None and rate != sampling_rate:
        # Keras resamples with tensorflow-io; glassnet would rather say so than train on another pitch
        raise ValueError(f"{WHERE}: {path} is sampled at {rate} Hz, sampling_rate={sampling_rate} was asked (glassnet "
                         f"does not resample: convert the file, or leave sampling_rate out)")
    if width == 1:          # 8-bit WAV is unsigned, 128 the silence
        samples = (np.frombuffer(raw, np.uint8).astype(np.float32) - 128) * np.float32(1 / 128)
    elif width == 3:        # 24-bit little-endian: each sample into the top 3 bytes of an int32
        packed = np.frombuffer(raw, np.uint8).reshape(-1, 3)
        wide = np.zeros((len(packed), 4), np.uint8)
        wide[:, 1:] = packed
        samples = wide.view("<i4")[:, 0].astype(np.float32) * np.float32(2.0 ** -31)
    else:                   # 16 and 32 bits: signed little-endian; the scale a power of 2, exact in float32
        samples = np.frombuffer(raw, f"<i{width}").astype(np.float32) * np.float32(2.0 ** (1 - 8 * width))
    return samples.reshape(frames, channels), rate


class AudioFolderDataset(FolderDataset):
    """The batches of ``audio_dataset_from_directory``: ``(audio, labels)`` with audio float32
    (batch, samples, channels), or the audio alone with ``label_mode=None``. ``file_paths``,
    ``labels`` and ``class_names`` say what it serves, in order."""

    def __init__(self, file_paths, labels, class_names, label_mode, batch_size, sampling_rate,
                 output_sequence_length):
        super().__init__(file_paths, labels, class_names, label_mode, batch_size)
        self.sampling_rate, self.output_sequence_length = sampling_rate, output_sequence_length

    def load(self, path):
        """One file's samples, float32 (samples, channels)."""
        return read_wav(path, self.sampling_rate)[0]

    def batch(self, paths):
        clips = [self.load(path) for path in paths]
        if self.output_sequence_length is None:
            # Keras' padded_batch: every axis to the batch's largest, channels included
            length, channels = max(len(clip) for clip in clips), max(clip.shape[1] for clip in clips)
        else:
            length, channels = self.output_sequence_length, clips[0].shape[1]
            for path, clip in zip(paths, clips):
                if clip.shape[1] != channels:       # Keras fails here too (TensorFlow cannot batch them)
                    raise ValueError(f"{WHERE}: one batch holds {paths[0]} with {channels} channel(s) and {path} "
                                     f"with {clip.shape[1]}; with output_sequence_length the clips of a batch must "
                                     f"have one number of channels (without it, the fewer are padded with zeros)")
        audio = np.zeros((len(clips), length, channels), dtype=np.float32)
        for row, clip in zip(audio, clips):
            kept = clip[:length]        # output_sequence_length cuts the end off a longer clip
            row[:len(kept), :clip.shape[1]] = kept
        return audio


def audio_dataset_from_directory(directory, labels="inferred", label_mode="int", class_names=None, batch_size=32,
                                 sampling_rate=None, output_sequence_length=None, ragged=False, shuffle=True,
                                 seed=None, validation_split=None, subset=None, follow_links=False, verbose=True):
    """Keras' ``audio_dataset_from_directory``: an ``AudioFolderDataset`` (or, with
    ``subset="both"``, the training and the validation one) of the ``.wav`` files below
    ``directory``, one sub-folder per class. Each batch is ``(audio, labels)``, audio float32
    (batch, samples, channels) in [-1, 1].

    labels : "inferred" (from the sub-folders), None, or a list of integer labels, one per file
        below ``directory`` in the order of their paths (class names: the sorted labels, as str)
    label_mode : "int" (labels (n,)), "categorical" (one-hot), "binary" ((n, 1) floats, two
        classes) or None (the audio alone)
    class_names : the sub-folders to read, in this order (default: all, sorted)
    batch_size : positive int (``None``, Keras' unbatched samples, is refused: glassnet serves batches)
    sampling_rate : int, optional: every file must be sampled at this rate (Hz), or is refused by
        name; Keras resamples it with tensorflow-io, glassnet does not resample
    output_sequence_length : int, optional: every clip cut or padded (zeros at the end) to this many
        samples; without it each batch is as long as its longest clip
    ragged : only False (Keras' ragged tensors are not built: the batches are padded arrays)
    shuffle, seed, validation_split, subset, follow_links, verbose : as in Keras (and glassnet's
        ``image_dataset_from_directory``): ``subset`` "training", "validation" or "both"

    >>> train, val = audio_dataset_from_directory("speech", validation_split=0.2, subset="both", seed=1,
    ...                                           output_sequence_length=16000)     # doctest: +SKIP
    >>> model.fit(train, validation_data=val, epochs=10)                           # doctest: +SKIP
    """
    if check_flag(ragged, f"{WHERE}: ragged", ValueError):
        raise ValueError(f"{WHERE}: ragged=True is not implemented (glassnet's batches are padded arrays; "
                         f"output_sequence_length gives every clip one length)")
    sampling_rate = check_positive_int(sampling_rate, f"{WHERE}: sampling_rate (Hz)", allow_none=True)
    output_sequence_length = check_positive_int(output_sequence_length, f"{WHERE}: output_sequence_length",
                                                allow_none=True)
    names, label_mode, parts = listed_files(WHERE, directory, labels, label_mode, class_names, batch_size, shuffle,
                                            seed, validation_split, subset, follow_links, verbose, (".wav",),
                                            "audio files")
    datasets = tuple(AudioFolderDataset(paths, targets, names, label_mode, int(batch_size), sampling_rate,
                                        output_sequence_length) for paths, targets in parts)
    return returned(datasets, subset, shuffle)
