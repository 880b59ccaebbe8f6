"""User-facing errors: one clear line for the person at the terminal, never a traceback."""


class VaeTuiError(Exception):
    """A problem the user can act on; the CLI prints it on one line and exits with `exit_code`."""

    exit_code = 1


class DataError(VaeTuiError):
    """The dataset could not be found, installed, downloaded or read."""

    exit_code = 2


class CheckpointError(VaeTuiError):
    """A checkpoint is missing, unreadable, unsafe or of another model."""

    exit_code = 2


class TrainingDiverged(VaeTuiError):
    """The loss became NaN or infinite; the last good checkpoint is kept."""


class ConfigError(VaeTuiError):
    """Settings that cannot work together (e.g. CUDA requested on a machine without it)."""

    exit_code = 2


class InvalidConfigValue(ConfigError, ValueError):
    """A `TrainConfig` field given a value its flag would refuse. It names the field and value so a
    caller can word the refusal for its context (a resume says the checkpoint's config holds it);
    a ValueError too, so code that probes a saved config for what it can show skips it as before."""

    def __init__(self, name: str, value: object, problem: str) -> None:
        super().__init__(f"{name}={value!r}: {problem}")
        self.name, self.value, self.problem = name, value, problem


class OutputClosed(VaeTuiError):
    """stdout went away (`vae-tui --train-only | head`): not a disk problem, and the shell's
    convention for a writer whose reader left is 128 + SIGPIPE."""

    exit_code = 141
