"""textual-serve's server, changed where `vae-tui --serve` needs it to be.

- Each browser connection's app runs in a process group (a session) of its own: ending the
  group ends whatever the app started, and a Ctrl-C typed at the server reaches only the server,
  which then ends every group itself (`end_groups`), leaving no process behind.
- The page reaches its websocket at the address the browser used (`Host`), not the one the
  server bound: through an SSH port forward those differ.
- It serves on a socket bound before anything else starts, so a port in use is refused before a
  trainer exists, and port 0 (any free one) reports the port it got.
- Its own start banner and request log stay quiet: the trainer's lines own the console.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import urlsplit

import aiohttp_jinja2
from aiohttp import web
from textual_serve import download_manager
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

from .serve_flags import is_loopback

log = logging.getLogger("vae-tui.serve")

DOWNLOAD_CHUNK_WAIT = 60.0
"""Seconds a page's app may take to hand over the next chunk of a download (`e`): textual-serve
gives up after 4, which an app busy drawing beside a trainer on 2 cores overran (the browser then
saw the download cancelled)."""
download_manager.DOWNLOAD_TIMEOUT = DOWNLOAD_CHUNK_WAIT  # type: ignore[attr-defined]  # read per chunk


class GroupedAppService(AppService):
    """One browser connection's app, started in a new session (its own process group)."""

    def __init__(self, *args: Any, groups: set[int], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.groups = groups

    async def _open_app_process(self, width: int = 80, height: int = 24) -> asyncio.subprocess.Process:
        environment = self._build_environment(width=width, height=height)
        self._process = process = await asyncio.create_subprocess_shell(
            self.command,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
            start_new_session=True,
        )
        assert process.stdin is not None
        self._stdin = process.stdin
        self.groups.add(process.pid)
        return process

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            if self._process is not None:
                pgid = self._process.pid
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._process.wait(), timeout=5)
                if group_alive(pgid):  # the app is gone (or stuck): nothing it started may stay
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.killpg(pgid, signal.SIGKILL)
                self.groups.discard(pgid)
            with contextlib.suppress(Exception):  # an app that crashed: the page says "session ended"
                await self.remote_close()


def end_groups(groups: set[int], grace: float = 3.0) -> None:
    """SIGTERM each process group, then SIGKILL whatever is left after `grace` seconds."""
    live = set(groups)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pgid in list(live):
            try:
                os.killpg(pgid, sig)
            except (ProcessLookupError, PermissionError):
                live.discard(pgid)
        deadline = time.monotonic() + grace
        while live and time.monotonic() < deadline:
            live = {g for g in live if group_alive(g)}
            time.sleep(0.05)
        if not live:
            return


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


class WebServer(Server):
    """textual-serve's `Server` on a bound socket, starting `command` per connection."""

    def __init__(
        self,
        command: str,
        sock: socket.socket,
        on_shutdown: Callable[[], Awaitable[None]],
        every_second: Callable[[], None] | None = None,
    ) -> None:
        host, port = sock.getsockname()[:2]
        super().__init__(command, host=host, port=port, title="vae-tui")
        self.sock = sock
        self.groups: set[int] = set()
        self.shutdown_hook = on_shutdown
        self.every_second = every_second
        self.loopback = is_loopback(host)
        self.ticker: asyncio.Task[None] | None = None
        self.exiting = False

    def initialize_logging(self) -> None:
        logging.basicConfig(level=logging.WARNING, format="vae-tui (web): %(message)s")

    def request_exit(self) -> None:
        if not self.exiting:  # a second Ctrl-C while the trainer saves: let it finish saving
            self.exiting = True
            super().request_exit()

    async def on_startup(self, app: web.Application) -> None:
        """(textual-serve prints its banner here; the caller prints the URL instead.)"""
        if self.every_second is not None:
            self.ticker = asyncio.create_task(self.tick(self.every_second))

    @staticmethod
    async def tick(call: Callable[[], None]) -> None:
        while True:
            call()
            await asyncio.sleep(1.0)

    async def on_shutdown(self, app: web.Application) -> None:
        if self.ticker is not None:
            self.ticker.cancel()
        await self.shutdown_hook()
        await asyncio.get_running_loop().run_in_executor(None, end_groups, set(self.groups))

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        """textual-serve's page, with the websocket at the address this request came to."""
        font_size = min(max(to_int(request.query.get("fontsize", "16"), 16), 6), 48)
        base = f"{request.scheme}://{request.host}"
        ws = ("wss:" if request.scheme == "https" else "ws:") + base.split(":", 1)[1]
        static = request.app.router["static"].url_for(filename="/")
        return {
            "font_size": font_size,
            "app_websocket_url": f"{ws}{request.app.router['websocket'].url_for()}",
            "config": {"static": {"url": f"{base}{static}".rstrip("/") + "/"}},
            "application": {"name": self.title},
        }

    def foreign(self, request: web.Request) -> str:
        """Why a websocket request must not get an app ('' if it may). Browsers let any page open
        a websocket anywhere: without this, a site you visit could reach 127.0.0.1:8000 and
        stop your run. So the page must be our own (Origin = the address asked for), and on
        loopback the address must be a loopback name (no DNS rebinding)."""
        origin = request.headers.get("Origin")
        if origin is not None and urlsplit(origin).netloc != request.host:
            return f"a page from {origin} is not this server's"
        if self.loopback:
            name = urlsplit(f"//{request.host}").hostname or ""
            if name != "localhost" and not is_loopback(name):
                return f"{request.host} is not a loopback address"
        return ""

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's handler, with the app started in a process group of its own."""
        if problem := self.foreign(request):
            log.warning("refused a connection: %s", problem)
            raise web.HTTPForbidden(text=problem)
        websocket = web.WebSocketResponse(heartbeat=15)
        width = min(max(to_int(request.query.get("width", "80"), 80), 10), 1000)
        height = min(max(to_int(request.query.get("height", "24"), 24), 5), 500)
        app_service: AppService | None = None
        try:
            await websocket.prepare(request)
            app_service = GroupedAppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                close=websocket.close,
                download_manager=self.download_manager,
                debug=self.debug,
                groups=self.groups,
            )
            await app_service.start(width, height)
            await self._process_messages(websocket, app_service)
        except asyncio.CancelledError:
            await websocket.close()
        except Exception as error:  # noqa: BLE001 - one broken connection must not end the server
            log.warning("connection ended: %s", error)
        finally:
            if app_service is not None:
                await app_service.stop()
        return websocket

    def serve(self, debug: bool = False) -> None:
        """Until Ctrl-C or SIGTERM (then `on_shutdown` stops the trainer and ends every app)."""
        self.debug = debug
        self.initialize_logging()
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self.request_exit)
        web.run_app(self._make_app(), sock=self.sock, handle_signals=False, loop=loop, print=lambda *a: None)
