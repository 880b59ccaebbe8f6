"""`vae-tui --export PATH`: write a run's GIFs, last views and loss curves; no screen needed.

stdout gets each file written, one path a line (for scripts: `vae-tui --export RUN | xargs ...`);
what was skipped and which weights the views show go to stderr, one line each. A bad PATH is the
CLI's one-line error (core/export.py raises it before writing anything).
"""

from __future__ import annotations

import sys

from .logs import log_warnings_to_stderr
from .request import Request


def run_export(request: Request) -> int:
    log_warnings_to_stderr()
    from vae_tui.core.export import export, target  # noqa: PLC0415

    assert request.export is not None
    target(request.export)  # a bad PATH is refused before torch's seconds of import
    import torch  # noqa: PLC0415 - the views decode a few dozen codes: one thread, beside any trainer

    torch.set_num_threads(1)
    c = request.config
    done = export(
        request.export,
        dataset=c.dataset if request.given("dataset") else None,
        data_dir=c.data_dir if request.given("data_dir") else None,
        test_limit=c.test_limit if request.given("test_limit") else None,
    )
    for path in done.written:
        print(path, flush=True)
    for note in done.notes:
        print(f"vae-tui: {note}", file=sys.stderr)
    return 0
