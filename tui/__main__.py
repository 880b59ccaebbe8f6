"""`python -m vae_tui.tui` is the `vae-tui` command."""

from .cli import main

raise SystemExit(main())
