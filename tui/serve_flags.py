"""`--serve`, `--host` and `--port`: the flags that put the app in a browser, what they refuse,
and the command line each process the server starts is given (the user's, less these three).

The other flags say what the browser shows, exactly as they do in a terminal; only the modes
without a screen (--train-only, --eval, --export) and the image protocols a browser cannot
show (sixel, kitty) are refused.
"""

from __future__ import annotations

import argparse
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
SERVE_FLAGS = ("--serve",)
VALUE_FLAGS = ("--host", "--port")
"""The flags the served processes must not see (they would serve again); each takes a value."""


@dataclass(frozen=True)
class Serve:
    """Where to serve and what the user asked for besides serving."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    """0: any free port (the URL printed says which)."""
    argv: tuple[str, ...] = ()
    """The user's flags without --serve/--host/--port: what each browser's app is started with."""


def is_loopback(host: str) -> bool:
    """127.0.0.0/8 or ::1 (a name, even "localhost", is not trusted to be: it resolves)."""
    try:
        return ipaddress.ip_address(host.split("%", maxsplit=1)[0]).is_loopback
    except ValueError:
        return False


def port_arg(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"a port is 0 to 65535 (0: any free one), got {text}")
    return port


def add_serve_flags(parser: argparse.ArgumentParser) -> None:
    web = parser.add_argument_group("in a browser")
    web.add_argument(
        "--serve",
        action="store_true",
        help="serve the app at http://HOST:PORT/ instead of drawing here; the other flags say what "
        "it shows (training keeps going when the page closes)",
    )
    web.add_argument(
        "--host",
        help=f"the address to serve on (default {DEFAULT_HOST}: this machine only; on any other, "
        "whoever reaches the port can pause and stop the run)",
    )
    web.add_argument(
        "--port", type=port_arg, help=f"the port to serve on (default {DEFAULT_PORT}; 0: any free one)"
    )


def check_serve_flags(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """What cannot be served: refused before anything starts, in one line."""
    if not args.serve:
        given = [f for f, v in (("--host", args.host), ("--port", args.port)) if v is not None]
        if given:
            parser.error(
                f"{' and '.join(given)} only {'applies' if len(given) == 1 else 'apply'} with --serve"
            )
        return
    for name, on in (("--train-only", args.train_only), ("--eval", args.eval), ("--export", args.export)):
        if on:
            parser.error(f"--serve shows the app in a browser; {name} has no screen to show")
    if args.graphics in ("sixel", "kitty"):
        parser.error(
            f"--graphics {args.graphics} does not apply with --serve: a browser draws half-block cells"
        )


def drop_flags(argv: Sequence[str], bare: tuple[str, ...] = (), valued: tuple[str, ...] = ()) -> list[str]:
    """`argv` without the switches `bare` and the flags `valued` with their values (either
    `--port 8000` or `--port=8000`)."""
    kept: list[str] = []
    skip = False
    for token in argv:
        if skip:
            skip = False
        elif token in valued:
            skip = True
        elif token not in bare and not token.startswith(tuple(f"{f}=" for f in valued)):
            kept.append(token)
    return kept


def served_argv(argv: Sequence[str]) -> tuple[str, ...]:
    """`argv` without --serve, --host and --port."""
    return tuple(drop_flags(argv, SERVE_FLAGS, VALUE_FLAGS))


def serve_request(args: argparse.Namespace, argv: Sequence[str]) -> Serve | None:
    if not args.serve:
        return None
    host = DEFAULT_HOST if args.host is None else args.host
    return Serve(host, DEFAULT_PORT if args.port is None else args.port, served_argv(argv))
