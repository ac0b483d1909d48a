"""Ctrl-C during ``fit`` takes effect between batches, never inside an optimizer step.

An optimizer updates its moments and the parameters piece by piece in Python; a KeyboardInterrupt
raised in the middle would leave a step half taken (Adam's m scaled but not added to, the step count
advanced, some weights moved and others not), in a model that looks fine and saves without
complaint. So while ``fit`` runs in the main thread, a first SIGINT only marks the interrupt; the
training loop raises KeyboardInterrupt after the step that was under way, with the model as its last
complete step left it. A second Ctrl-C before then raises at once, for a step that never ends.
"""
import signal
import threading


class DeferredInterrupt:
    """Context manager: within it, Ctrl-C is held until ``check()`` (see the module docstring).

    Only when Python's own SIGINT handler is in place and this is the main thread: a handler set by
    someone else (a notebook kernel, a server) is theirs, and other threads cannot take signals.
    """

    def __enter__(self):
        self.pending = False
        self._installed = (threading.current_thread() is threading.main_thread()
                           and signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        if self._installed:
            signal.signal(signal.SIGINT, self._hold)
        return self

    def _hold(self, signum, frame):
        if self.pending:                  # a second Ctrl-C: the user wants out now
            raise KeyboardInterrupt
        self.pending = True

    def check(self):
        """Raise the KeyboardInterrupt held since the last check, if any."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt("training stopped between two batches: the model holds its last "
                                    "complete step")

    def __exit__(self, exc_type, exc, tb):
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if exc_type is None:              # a Ctrl-C during the last epoch's end is not lost
            self.check()
        return False
