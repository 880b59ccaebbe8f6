"""vae-tui's core: model, data, the training loop and what consumes it.

Nothing here imports textual, rich or rich-pixels, so the core runs headless on any machine
(a test checks this in a subprocess).
"""
