"""Local WebSocket/HTTP test server for jsrunner's tests, benchmarks and ``jsrunner serve``.

Built on ``websockets.asyncio.server``; listens on 127.0.0.1 (ephemeral port by default).
Query parameters are optional; defaults are shown. Every endpoint that "echoes" sends
text and binary frames back unchanged once its own action is done.

==========================================  =================================================
path                                        behaviour
==========================================  =================================================
``/echo``, ``/ws/echo``                     echo text and binary frames unchanged
``/ws/crocochat/<room>/``, ``/chat/<room>`` k6 crocochat room (same rooms under both paths):
                                            ``{"event":"SET_NAME","new_name":n}`` →
                                            ``{"event":"USER_JOINED","user":n,"message":…}``
                                            to everyone in the room (joiner included);
                                            ``{"event":"SAY","message":m}`` →
                                            ``{"event":"CHAT_MSG","user":n,"message":m}`` to
                                            everyone incl. the sender; ``{"event":"LEAVE"}``
                                            → ``USER_LEFT`` {user, message} to everyone
                                            incl. the leaver, then the server closes (1000);
                                            invalid JSON / non-object / binary / unknown or
                                            missing event / bad field →
                                            ``{"event":"ERROR","message":…}`` to the sender
                                            only. Disconnecting after SET_NAME without LEAVE
                                            broadcasts ``USER_LEFT`` to the others. SAY
                                            before SET_NAME uses ``anonymous-<hex>``.
``/headers``                                first frame: JSON ``{"headers": {lower-cased
                                            name: value}, "cookies": {name: value},
                                            "path": …, "query": {…}}``; then echo
``/subprotocol``                            accept the first offered subprotocol, send one
                                            text frame with it (``""`` if none); then echo.
                                            (Other endpoints never select a subprotocol.)
``/ping?interval=100&count=3``              every ``interval`` ms send a Ping with payload
                                            ``srv-0``, ``srv-1``, … ``count`` times; echo
``/close?code=1000&reason=&after=0``        server closes with code/reason after ``after``
                                            ms (echoes meanwhile). Any code 0–65535;
                                            ``code=none`` sends an empty Close frame (client
                                            sees 1005); codes not allowed on the wire are
                                            written raw and TCP is closed right after
``/slow?delay=1000``                        delay the 101 response by ``delay`` ms; echo
``/status?code=403``                        refuse the upgrade with that HTTP status
                                            (200–599); plain HTTP GET gets the same status
``/abort?after=0``                          drop TCP (no Close frame) ``after`` ms after
                                            open; ``&when=handshake`` drops it instead of
                                            answering the handshake
``/flood?count=1000&size=16&type=text``     send ``count`` messages of ``size`` bytes
                                            (``x``…; ``type=binary`` for binary) as fast as
                                            possible; then echo
``/badutf8``                                send one text frame with invalid UTF-8; echo
``/big?size=1048576&type=binary``           send one frame of ``size`` bytes
                                            (``type=text`` → ``a``…); then echo
``GET /`` (plain HTTP)                      short text page listing the endpoints
==========================================  =================================================

Every endpoint also answers under ``/<endpoint>/<any-suffix>`` (e.g. ``/echo/my-test``,
``/close/t1?code=4000``); statistics are kept per full path, so tests sharing the session
server can give themselves private counters. Unknown WebSocket paths are refused with
404, bad query values with 400, plain HTTP requests to WebSocket endpoints with 426.
The server never sends keepalive pings, accepts messages up to 256 MiB, negotiates
permessage-deflate when offered, and never times out a handshake (``stop()`` aborts).

Statistics, per request path without query string (``stats("/echo")`` → :class:`PathStats`):
``requests``, ``connections`` (opened), ``open``, ``text_messages``, ``binary_messages``,
``messages`` (sum), ``messages_sent``, ``pings``, ``pongs``, ``close_codes`` and
``close_reasons`` (one entry per finished connection, code 1006 when the client sent no
Close frame). ``received(path)`` lists received messages (the last 10,000, at most
32 MiB). ``reset()`` zeroes
everything. Counters change asynchronously — use ``wait_stats(path, predicate)`` to poll.

Usage::

    with ServerThread() as srv:          # daemon thread, port 0
        ws = websocket.create_connection(srv.url + "/echo")
        ...
        srv.wait_stats("/echo", lambda s: s.close_codes == (1000,))

    serve_forever("127.0.0.1", 8765, ready=lambda server: print(server.url))

Pytest: ``from jsrunner.testserver.fixtures import ws_server, fresh_ws_server``.
"""

from .server import ENDPOINTS, LocalServer, PathStats, ServerThread, serve_forever

__all__ = ["ENDPOINTS", "LocalServer", "PathStats", "ServerThread", "serve_forever"]
