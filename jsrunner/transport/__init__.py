"""WebSocket transport for ``k6/websockets`` and legacy ``k6/ws`` (Python side, no JS).

* :mod:`.state` — pure state machine (readyState, events per websockets.md §4.4, metrics)
* :mod:`.client` — :class:`WebSocketConnection`, the non-blocking I/O driver
* :mod:`.hub` — shared selector threads; :func:`shutdown` at the end of a run
* :mod:`.deflate`, :mod:`.frames` — permessage-deflate and framing
"""

from .client import WebSocketConnection
from .hub import TransportHub, get_hub, shutdown
from .state import (CLOSED, CLOSING, CONNECTING, OPEN, CloseArgumentError, InvalidStateError,
                    WSState, close_error_text, validate_close_args)

__all__ = [
    "WebSocketConnection", "TransportHub", "get_hub", "shutdown", "WSState",
    "CONNECTING", "OPEN", "CLOSING", "CLOSED", "InvalidStateError", "CloseArgumentError",
    "close_error_text", "validate_close_args",
]
