"""``RemoteMonitor``: each epoch's logs posted to an HTTP server (Keras 3.15's callback)."""
import json

import numpy as np

from .._warnings import warn
from .base import Callback


class RemoteMonitor(Callback):
    """POST each epoch's logs, ``{"epoch": epoch, **logs}`` as JSON, to ``root + path`` (Keras'
    ``keras.callbacks.RemoteMonitor``).

    root : str, the server's URL, default ``"http://localhost:9000"``
    path : str, added to ``root``, default ``"/publish/epoch/end/"``
    field : str, the form field the JSON goes in (``send_as_json=False``): the body is
        ``data=<the JSON, URL-encoded>``, ``application/x-www-form-urlencoded``, as Keras'
        ``requests.post(url, {field: json})`` sends it
    headers : dict of str, optional, HTTP headers added to each request
    send_as_json : bool, the JSON itself as the body (``application/json``) instead of a form

    The request goes through Python's ``urllib`` (imported at the first epoch's end: glassnet needs
    no ``requests``). A server that cannot be reached gives a warning, "Could not reach
    RemoteMonitor root server at ...", and training goes on, as in Keras; a server's error status
    (404, 500) is ignored, as Keras ignores it. NumPy values in the logs are sent as Python numbers.
    With ``send_as_json``, a NaN or infinite value cannot be JSON (Keras' ``requests`` refuses it):
    that epoch is not sent, with a warning.

    >>> model.fit(X, y, epochs=5, callbacks=[RemoteMonitor()])     # doctest: +SKIP
    """

    def __init__(self, root="http://localhost:9000", path="/publish/epoch/end/", field="data", headers=None,
                 send_as_json=False):
        super().__init__()
        for name, value in (("root", root), ("path", path), ("field", field)):
            if not isinstance(value, str):
                raise TypeError(f"RemoteMonitor: {name}: expected a str, got {type(value).__name__} {value!r:.40}")
        if headers is not None and not (isinstance(headers, dict)
                                        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())):
            raise TypeError(f"RemoteMonitor: headers: expected a dict of str to str or None, got "
                            f"{type(headers).__name__} {headers!r:.60}")
        if not isinstance(send_as_json, (bool, np.bool_)):
            raise TypeError(f"RemoteMonitor: send_as_json: expected True or False, got {send_as_json!r:.40}")
        self.root, self.path, self.field = root, path, field
        self.headers, self.send_as_json = headers, bool(send_as_json)

    def payload(self, epoch, logs):
        """``(body bytes, content type)`` of one epoch's request."""
        import urllib.parse
        send = {"epoch": epoch}
        for key, value in (logs or {}).items():
            # np.float32 and 0-d arrays are no JSON: their Python number (Keras' .item())
            send[key] = value.item() if isinstance(value, (np.ndarray, np.generic)) else value
        if self.send_as_json:
            return json.dumps(send, allow_nan=False).encode("utf-8"), "application/json"
        body = urllib.parse.urlencode({self.field: json.dumps(send)})
        return body.encode("ascii"), "application/x-www-form-urlencoded"

    def on_epoch_end(self, epoch, logs=None):
        import urllib.error
        import urllib.request
        try:
            body, content_type = self.payload(epoch, logs)
        except ValueError as exc:       # NaN or inf with send_as_json
            warn(f"RemoteMonitor: epoch {epoch}'s logs are not sent: {exc} (JSON holds no NaN or infinity)")
            return
        headers = {"Content-Type": content_type, **(self.headers or {})}
        request = urllib.request.Request(self.root + self.path, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request) as response:
                response.read()
        except urllib.error.HTTPError:
            pass        # the server answered (404, 500): Keras' requests.post does not raise either
        except (urllib.error.URLError, OSError, ValueError):    # (ValueError: a URL urllib cannot read)
            warn(f"Could not reach RemoteMonitor root server at {self.root}")
