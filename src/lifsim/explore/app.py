"""The explorer's web application (Starlette, ASGI): one page, its files, a WebSocket
for live runs, and downloads.

Routes: ``/`` (the page), ``/static/...`` (its script, style and uPlot),
``/api/experiments`` (the experiments and their controls), ``/ws`` (a run per message,
the newest first) and ``/download/{toml,json,npz}?exp=NAME&KEY=VALUE...`` (the files
of `lifsim show` and `lifsim run` for the page's state). Nothing here takes a path from
the page: experiments are named, and their files were given on the command line.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import traceback
import warnings
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from ..errors import ParameterError
from ..io.experiment_file import render
from ..io.outputs import documents, json_text, npz_bytes, summary_text
from . import figures, is_loopback
from .runs import Limits, catalogue, resolve, run

STATIC = Path(__file__).parent / "static"
#: Longest message the page may send, characters (its settings are a few dozen numbers).
MAX_MESSAGE = 65536
#: Hosts a page served on a loopback address may name (another name there is DNS rebinding).
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1", "[::1]")
DOWNLOADS = {"toml": "application/toml", "json": "application/json", "npz": "application/octet-stream"}


class Explorer:
    """What the server keeps: the experiments offered, the limits, one lock so that one
    experiment runs at a time, and the threads runs go to (so that a run the page gave up
    waiting for never blocks the server)."""

    def __init__(self, files=(), limits: Limits = Limits()):
        self.entries = catalogue(files)
        self.limits = limits
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(2, thread_name_prefix="lifsim-explore")

    def experiments(self) -> list[dict]:
        return [{"name": e.name, "label": e.label, "description": e.data.get("description", ""),
                 "controls": [c.as_dict() for c in e.controls]} for e in self.entries.values()]

    def resolve(self, name, settings):
        entry = self.entries.get(name) if isinstance(name, str) else None
        if entry is None:
            raise ParameterError(f"experiment must be one of {', '.join(self.entries)} (got {str(name)[:80]!r})")
        return resolve(entry, settings, self.limits)

    def answer(self, name, settings) -> dict:
        """A run of the page's state: its figures and summary, or the refusal."""
        started = time.perf_counter()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            exp = self.resolve(name, settings)
            results = run(exp, self.lock)
        summary = summary_text(exp, results, []).splitlines()[:-1]  # without the files written
        panels = figures.panels(exp, results)
        return {"ok": True, "title": exp.title, "panels": panels, "summary": summary,
                "warnings": [str(w.message) for w in caught], "duration_ms": exp.config.duration_ms,
                "server_ms": round(1e3 * (time.perf_counter() - started), 3)}

    def download(self, kind: str, name, settings) -> tuple[str, bytes]:
        exp = self.resolve(name, settings)
        if kind == "toml":
            return f"{exp.config.name}.toml", render(exp).encode()
        arrays, summary = documents(exp, run(exp, self.lock))
        data = json_text(summary).encode() if kind == "json" else npz_bytes(arrays)
        return f"{exp.config.name}.{kind}", data

    async def in_thread(self, function, *args):
        """``function(*args)`` on a run thread, waited for at most the limit's seconds."""
        future = asyncio.get_running_loop().run_in_executor(self.pool, function, *args)
        try:
            return await asyncio.wait_for(future, self.limits.seconds)
        except asyncio.TimeoutError:
            raise ParameterError(f"the run took longer than {self.limits.seconds:g} s, the explorer's limit; "
                                 "shorten it or use fewer neurons") from None


def create_app(files=(), limits: Limits = Limits(), host: str = "127.0.0.1", ready=None) -> Starlette:
    """The explorer's ASGI application, offering the built-in experiments and ``files``
    (TOML experiment files, read now); ``host`` is the address it listens on (on a loopback
    address only requests naming a loopback host are answered); ``ready``, if given, is
    called when the server starts it."""
    explorer = Explorer(files, limits)

    @asynccontextmanager
    async def lifespan(app):
        if ready is not None:
            ready()
        yield

    allowed = [*LOOPBACK_NAMES, host] if is_loopback(host) else ["*"]

    async def page(request):
        return FileResponse(STATIC / "index.html")

    async def experiments(request):
        return JSONResponse(explorer.experiments())

    async def download(request):
        kind = request.path_params["kind"]
        if kind not in DOWNLOADS:
            return PlainTextResponse(f"download must be one of {', '.join(DOWNLOADS)}", status_code=404)
        settings = {k: v for k, v in request.query_params.items() if k != "exp"}
        try:
            filename, data = await explorer.in_thread(explorer.download, kind, request.query_params.get("exp"),
                                                      settings)
        except ParameterError as error:
            return PlainTextResponse(f"lifsim: error: {error}", status_code=400)
        return Response(data, media_type=DOWNLOADS[kind],
                        headers={"Content-Disposition": f'attachment; filename="{filename}"'})

    async def socket(websocket: WebSocket):
        await live(websocket, explorer)

    routes = [Route("/", page), Route("/api/experiments", experiments), Route("/download/{kind}", download),
              WebSocketRoute("/ws", socket), Mount("/static", StaticFiles(directory=STATIC), name="static")]
    app = Starlette(routes=routes, middleware=[Middleware(TrustedHostMiddleware, allowed_hosts=allowed)],
                    lifespan=lifespan)
    app.state.explorer = explorer
    return app


async def live(websocket: WebSocket, explorer: Explorer) -> None:
    """One page's live runs: each message a state to run; while one runs, newer messages
    replace older ones, so that the page gets the newest state's figures next."""
    if not _same_origin(websocket):
        await websocket.close(code=1008)
        return
    await websocket.accept()
    newest, arrived = [], asyncio.Event()
    reader = asyncio.create_task(_read(websocket, newest, arrived))
    try:
        while True:
            waiting = asyncio.create_task(arrived.wait())
            await asyncio.wait({reader, waiting}, return_when=asyncio.FIRST_COMPLETED)
            if not arrived.is_set():
                waiting.cancel()
                return  # the page went away
            arrived.clear()
            reply = await _reply(newest.pop(), explorer)
            # a network's figures are a few hundred kB of JSON: written off the event loop (not
            # on the runs' threads, which may be busy)
            text = await asyncio.get_running_loop().run_in_executor(None, json.dumps, reply)
            await websocket.send_text(text)
    except Exception:  # the page closed while a reply was on its way
        return
    finally:
        reader.cancel()


async def _read(websocket: WebSocket, newest: list, arrived: asyncio.Event) -> None:
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        newest[:] = [message.get("text")]
        arrived.set()


async def _reply(text, explorer: Explorer) -> dict:
    """The answer to one message: ``{"id", "experiment", "settings"}`` as JSON text."""
    ident = None
    try:
        message = _message(text)
        ident = message.get("id")
        reply = await explorer.in_thread(explorer.answer, message.get("experiment"), message.get("settings", {}))
    except ParameterError as error:
        reply = {"ok": False, "error": str(error)}
    except Exception as error:  # a fault of lifsim's: the page and the server carry on
        traceback.print_exc()
        reply = {"ok": False, "error": f"internal error ({type(error).__name__}: {error})"}
    return {"id": ident if isinstance(ident, (int, str)) and len(str(ident)) < 40 else None, **reply}


def _message(text) -> dict:
    if not isinstance(text, str):
        raise ParameterError("a message must be JSON text")
    if len(text) > MAX_MESSAGE:
        raise ParameterError(f"a message must be at most {MAX_MESSAGE} characters (got {len(text)})")
    try:
        message = json.loads(text)
    except (ValueError, RecursionError):
        raise ParameterError("a message must be JSON: {\"experiment\": NAME, \"settings\": {KEY: VALUE}}") from None
    if not isinstance(message, dict):
        raise ParameterError("a message must be a JSON object: {\"experiment\": NAME, \"settings\": {KEY: VALUE}}")
    return message


def _same_origin(websocket: WebSocket) -> bool:
    """A page of another site may not drive the explorer: a browser's Origin must name
    this server's host (a client that is not a browser sends none)."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    return origin.split("://", 1)[-1].rstrip("/") == websocket.headers.get("host", "")
