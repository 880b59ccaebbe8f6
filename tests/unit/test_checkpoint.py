"""Checkpoints: round trip, atomic replacement, and refusal of anything that is not weights."""

from __future__ import annotations

import errno
import os
import pickle
from pathlib import Path

import pytest
import torch

from vae_tui.core import checkpoint as ckpt
from vae_tui.core.config import TrainConfig
from vae_tui.core.errors import CheckpointError
from vae_tui.core.model import VAE
from vae_tui.core.resume import load_resume

from ..helpers import run_cli


def test_round_trip_keeps_every_tensor(tmp_path: Path) -> None:
    model = VAE(hidden_dim=16, latent_dim=3)
    opt = torch.optim.AdamW(model.parameters())
    model(torch.rand(4, 784))[0].sum().backward()
    opt.step()
    payload = {"format": ckpt.FORMAT, "version": 1, "model": model.state_dict(),
               "optimizer": opt.state_dict(), "epoch": 3, "rng": {"noise": torch.Generator().get_state()}}  # fmt: skip
    ckpt.atomic_save(payload, tmp_path / "c.pt")
    loaded = ckpt.read_checkpoint(tmp_path / "c.pt")
    state = ckpt.model_state(loaded)
    assert all(torch.equal(state[k], v) for k, v in model.state_dict().items())
    assert ckpt.architecture(state) == {"input_dim": 784, "hidden_dim": 16, "latent_dim": 3}
    fresh = torch.optim.AdamW(VAE(hidden_dim=16, latent_dim=3).parameters())
    fresh.load_state_dict(loaded["optimizer"])
    assert loaded["epoch"] == 3
    assert list(tmp_path.iterdir()) == [tmp_path / "c.pt"]  # no temp file left


def test_reference_state_dict_loads_as_is(tmp_path: Path) -> None:
    model = VAE()
    torch.save(model.state_dict(), tmp_path / "vae.pth")
    state = ckpt.model_state(ckpt.read_checkpoint(tmp_path / "vae.pth"))
    assert ckpt.architecture(state) == {"input_dim": 784, "hidden_dim": 256, "latent_dim": 20}


@pytest.mark.parametrize(
    "wrap",
    [
        lambda sd: {"epoch": 50, "model_state_dict": sd, "optimizer_state_dict": {}, "loss": 103.5},
        lambda sd: {"state_dict": sd},
        lambda sd: {f"module.{k}": v for k, v in sd.items()},  # saved from nn.DataParallel
    ],
    ids=["model_state_dict", "state_dict", "module-prefix"],
)
def test_notebook_checkpoint_dicts_load_their_weights(tmp_path: Path, wrap) -> None:
    """The ways notebooks commonly save a model all open, with exactly its weights."""
    state = VAE().state_dict()
    torch.save(wrap(state), tmp_path / "notebook.pt")
    from vae_tui.core.checkpoint import load_model

    loaded = load_model(tmp_path / "notebook.pt")
    assert loaded.source == "state_dict"
    assert all(torch.equal(v, state[k]) for k, v in loaded.model.state_dict().items())


def test_failed_write_leaves_the_previous_checkpoint_intact(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "checkpoint.pt"
    ckpt.atomic_save(
        {"format": ckpt.FORMAT, "version": ckpt.VERSION, "model": VAE(hidden_dim=8, latent_dim=2).state_dict(),
         "epoch": 1}, path
    )  # fmt: skip
    before = path.read_bytes()
    real_save = torch.save

    def disk_full(obj: object, f: object, *a: object, **k: object) -> None:
        real_save(obj, f)  # bytes reach the temp file, then the disk fills up
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device"):
        ckpt.atomic_save({"epoch": 2}, path)
    assert path.read_bytes() == before
    assert ckpt.read_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


class Boom:
    def __reduce__(self):
        return (os.system, ("echo pwned > pwned.txt",))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x00garbage" * 100, "corrupt"),
        (os.urandom(4096), "corrupt"),
    ],
    ids=["empty", "garbage", "random-bytes"],
)
def test_unreadable_files_are_refused(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=message):
        ckpt.read_checkpoint(path)


def test_truncated_checkpoint_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    torch.save(VAE().state_dict(), path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        ckpt.read_checkpoint(path)


def test_pickle_with_code_is_refused_and_never_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "evil.pt"
    torch.save({"model": Boom()}, path)
    with pytest.raises(CheckpointError, match="refused"):
        ckpt.read_checkpoint(path)
    path.write_bytes(pickle.dumps(Boom()))
    with pytest.raises(CheckpointError):
        ckpt.read_checkpoint(path)
    assert not (tmp_path / "pwned.txt").exists()


def test_other_architectures_are_refused(tmp_path: Path) -> None:
    conv = {"conv.weight": torch.zeros(3, 3)}
    with pytest.raises(CheckpointError, match="expected keys fc1"):
        ckpt.model_state(conv)
    bad = VAE().state_dict()
    bad["fc2.weight"] = torch.zeros(256, 7)
    with pytest.raises(CheckpointError, match=r"fc2\.weight has shape"):
        ckpt.architecture(bad)
    with pytest.raises(CheckpointError, match="does not exist"):
        ckpt.read_checkpoint(tmp_path / "nope.pt")


def test_ctrl_c_inside_torch_save_surfaces_as_ctrl_c(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """torch's zip writer turns a Ctrl-C mid-write into a RuntimeError on exit; we undo that."""
    path = tmp_path / "checkpoint.pt"
    ckpt.atomic_save({"epoch": 1}, path)
    real_save = torch.save

    def interrupted_save(obj: object, f: object, *a: object, **k: object) -> None:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise RuntimeError("[enforce fail at inline_container.cc:672] unexpected pos") from None

    monkeypatch.setattr(torch, "save", interrupted_save)
    with pytest.raises(KeyboardInterrupt):
        ckpt.atomic_save({"epoch": 2}, path)
    monkeypatch.setattr(torch, "save", real_save)
    assert ckpt.read_checkpoint(path)["epoch"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint.pt"]


def run_checkpoint(config: TrainConfig, version: object = ckpt.VERSION) -> Path:
    """A run folder holding a valid checkpoint of `config`'s model, tagged with `version`."""
    model = VAE(config.input_dim, config.hidden_dim, config.latent_dim)
    path = Path(config.run_dir) / ckpt.FILE_NAME
    path.parent.mkdir(parents=True)
    (path.parent / "config.json").write_text("{}")
    ckpt.save_checkpoint(
        path, model=model, optimizer=torch.optim.AdamW(model.parameters()), config=config,
        position=(1, 0, 8), partial=ckpt.fresh_sums(), noise=torch.Generator(),
    )  # fmt: skip
    data = torch.load(path, weights_only=True)
    if version is None:
        del data["version"]
    else:
        data["version"] = version
    torch.save(data, path)
    return path


def test_a_checkpoint_from_a_newer_vae_tui_is_refused_everywhere(
    tiny_config: TrainConfig, mnist_dir: Path
) -> None:
    """Its fields may mean something else: resuming, browsing or evaluating it is refused in one
    line that says what to do, never loaded as if this vae-tui understood it."""
    path = run_checkpoint(tiny_config, version=ckpt.VERSION + 1)
    message = (
        f"checkpoint {path} was written by a newer vae-tui (format version {ckpt.VERSION + 1}; "
        f"this one reads version {ckpt.VERSION}): upgrade vae-tui to open it"
    )
    for load in (ckpt.read_checkpoint, ckpt.load_model, lambda p: load_resume(p.parent, {})):
        with pytest.raises(CheckpointError) as refused:
            load(path)
        assert str(refused.value) == message
    assert ckpt.saved_position(path) is None  # the fast path leaves it to the full load's refusal
    evaluate = ("--eval", "--checkpoint", str(path), "--test-limit", "64", "--iwae-k", "2")
    for args in ((*evaluate, "--data-dir", str(mnist_dir)), ("--train-only", "--resume", str(path.parent))):
        result = run_cli(*args)
        assert (result.returncode, result.stdout, result.stderr) == (2, "", f"vae-tui: error: {message}\n")
    # The same file at this version opens: the refusal is the version's, nothing else's.
    path = run_checkpoint(tiny_config.with_(run_dir=f"{tiny_config.run_dir}-current"))
    assert ckpt.load_model(path).epoch == 1


@pytest.mark.parametrize("version", [None, "1", 1.0, True, 0, -1], ids=repr)
def test_our_checkpoint_without_a_valid_version_is_refused_as_damaged(
    tiny_config: TrainConfig, version: object
) -> None:
    path = run_checkpoint(tiny_config, version=version)
    with pytest.raises(CheckpointError) as refused:
        ckpt.load_model(path)
    assert str(refused.value) == f"checkpoint {path} is damaged: its format version is {version!r}"
    assert ckpt.saved_position(path) is None


def test_a_checkpoint_whose_saved_config_is_damaged_still_opens_for_browsing(tmp_path: Path) -> None:
    """TrainConfig refuses bad values; the weights beside a hand-damaged config are still
    browsed and scored (as before the config validated itself), with the defaults around them."""
    from vae_tui.core.checkpoint import load_model
    from vae_tui.core.model import VAE

    config = TrainConfig(hidden_dim=32, latent_dim=4).to_dict() | {"epochs": 0, "lr": -1}
    path = tmp_path / "damaged.pt"
    state = VAE(784, 32, 4).state_dict()
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "model": state, "config": config,
                "epoch": 1, "batch": 0, "step": 3}, path)  # fmt: skip
    loaded = load_model(path)
    assert (loaded.config.epochs, loaded.config.lr) == (TrainConfig().epochs, TrainConfig().lr)
    assert (loaded.config.hidden_dim, loaded.config.latent_dim, loaded.epoch) == (32, 4, 1)


def test_a_run_checkpoint_reads_back_typed_as_it_was_saved(tiny_config: TrainConfig) -> None:
    """One reader for resuming (`read_run_checkpoint`, with torch) and one for where a run stands
    (`saved_position`, without): both give what the save wrote."""
    path = run_checkpoint(tiny_config)
    saved = ckpt.read_checkpoint(path)
    run = ckpt.read_run_checkpoint(path)
    assert (run.epoch, run.batch, run.step, run.config) == (1, 0, 8, tiny_config)
    assert run.model.keys() == saved["model"].keys()
    assert all(torch.equal(v, saved["model"][k]) for k, v in run.model.items())
    assert run.optimizer == saved["optimizer"] and run.rng is not None
    assert run.partial == ckpt.fresh_sums()
    position = ckpt.saved_position(path)
    assert position == ckpt.SavedPosition(run.epoch, run.batch, run.step, run.config)


def test_only_our_run_checkpoints_are_taken_for_a_run(tiny_config: TrainConfig, tmp_path: Path) -> None:
    """A foreign dict with `optimizer` and `config` keys (a notebook's) is not a run, for the
    torch-free peek as for the full read; neither is our file of a bare model."""
    model = VAE(tiny_config.input_dim, tiny_config.hidden_dim, tiny_config.latent_dim)
    fields = {"model": model.state_dict(), "optimizer": torch.optim.AdamW(model.parameters()).state_dict(),
              "config": tiny_config.to_dict(), "epoch": 1, "batch": 0, "step": 8}  # fmt: skip
    foreign, bare = tmp_path / "foreign.pt", tmp_path / "bare.pt"
    torch.save(fields, foreign)
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, "model": model.state_dict()}, bare)
    for path in (foreign, bare):
        assert ckpt.saved_position(path) is None
        with pytest.raises(CheckpointError, match="is a bare model, not a vae-tui run; nothing to resume"):
            ckpt.read_run_checkpoint(path)
    ours = tmp_path / "ours.pt"
    torch.save({"format": ckpt.FORMAT, "version": ckpt.VERSION, **fields}, ours)
    assert ckpt.saved_position(ours) == ckpt.SavedPosition(1, 0, 8, tiny_config)
