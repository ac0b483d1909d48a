"""Callbacks: objects whose hooks ``fit`` calls at the start and end of training, epochs and batches.

Every hook is a no-op in ``Callback`` (but for ``on_train_batch_begin``/``_end``, which call Keras'
aliases ``on_batch_begin``/``_end``); subclasses override the ones they need. ``logs`` is a dict of
the current values (``loss``, metrics, ``val_*``). ``self.model`` is the model being trained; setting
``model.stop_training = True`` ends training as in Keras 3: in a batch hook, after that batch (the
epoch's validation and ``on_epoch_end`` still run); in ``on_epoch_end``, after that epoch.
"""
from .backup import BackupAndRestore
from .base import Callback, CallbackList, History, LambdaCallback, improved, resolve_mode
from .csv_logger import CSVLogger
from .learning_rate import LearningRateScheduler, ReduceLROnPlateau
from .monitoring import EarlyStopping, ModelCheckpoint
from .progress import ProgbarLogger, ProgressBar
from .remote_monitor import RemoteMonitor
from .swap_ema import SwapEMAWeights
from .tensorboard import TensorBoard
from .terminate import TerminateOnNaN

__all__ = ["Callback", "CallbackList", "History", "LambdaCallback", "EarlyStopping", "ModelCheckpoint",
           "LearningRateScheduler", "ReduceLROnPlateau", "CSVLogger", "ProgressBar", "ProgbarLogger", "RemoteMonitor", "TerminateOnNaN",
           "BackupAndRestore", "TensorBoard", "SwapEMAWeights",
           "resolve_mode", "improved"]
