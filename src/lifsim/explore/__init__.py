"""``lifsim explore``: the experiments in the browser, redrawn as a slider moves.

A local web application (Starlette on uvicorn, a WebSocket for live runs, uPlot for the
figures, all shipped in the package: no network access). It needs the ``explore``
extra: ``pip install 'lifsim[explore]'``. See ``docs/explore.md``.
"""

from __future__ import annotations

import socket
import sys
import webbrowser

from ..errors import ParameterError, require_int
from .runs import Limits

__all__ = ["Limits", "create_app", "serve"]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8050


def create_app(files=(), limits: Limits = Limits(), host: str = DEFAULT_HOST, ready=None):
    """The explorer's ASGI application (`lifsim.explore.app.create_app`)."""
    from .app import create_app as create

    return create(files, limits, host, ready)


def serve(host: str = DEFAULT_HOST, port: int = DEFAULT_PORT, files=(), open_browser: bool = False,
          limits: Limits = Limits()) -> None:
    """Serve the explorer on ``host:port`` until Ctrl-C (``port`` 0: a free port); prints
    its address once it serves. Experiment files are read, and the address taken, first."""
    try:
        import uvicorn
    except ImportError as error:
        raise ParameterError(f"lifsim explore needs the explore extra ({error.name} is missing): "
                             "pip install 'lifsim[explore]'") from None
    listening = bind(host, port)
    url = address(listening, host)

    def ready():
        # said once the server has its Ctrl-C handler: a Ctrl-C after this line stops it
        if not is_loopback(host):
            print(f"lifsim: warning: listening on {host}, not on this machine alone: anyone who can reach it can "
                  "run simulations here (within the explorer's limits)", file=sys.stderr)
        print(f"lifsim explore: serving on {url} (Ctrl-C to stop)", flush=True)
        if open_browser:
            webbrowser.open(url)

    config = uvicorn.Config(create_app(files, limits, host, ready), log_level="warning", access_log=False,
                            ws_max_size=1 << 20, timeout_graceful_shutdown=1)
    uvicorn.Server(config).run(sockets=[listening])


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``, or the reason there is none."""
    port = require_int("--port", port, low=0, high=65535)
    try:
        family, kind, proto, _, where = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
        listening = socket.socket(family, kind, proto)
        listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listening.bind(where)
        listening.listen(64)
    except (OSError, UnicodeError) as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise ParameterError(f"--host/--port: cannot listen on {host}:{port} ({reason})") from None
    return listening


def address(listening: socket.socket, host: str) -> str:
    port = listening.getsockname()[1]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/"


def is_loopback(host: str) -> bool:
    return host in ("localhost", "::1") or host.startswith("127.")
