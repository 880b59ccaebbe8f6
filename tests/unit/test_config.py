"""TrainConfig declared once: its own checks (the flags' bounds), and the flags, the resume policy
and what --eval / browsing read, all derived from its fields' metadata."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, get_args

import pytest

from vae_tui.core.bounds import MAX_SEED
from vae_tui.core.checkpoint import saved_config
from vae_tui.core.config import SETTINGS, Dataset, TrainConfig, choices
from vae_tui.core.consumers import drive
from vae_tui.core.errors import CheckpointError, ConfigError, InvalidConfigValue
from vae_tui.core.metrics import MetricsWriter
from vae_tui.core.resume import FIXED_ON_RESUME, load_resume
from vae_tui.core.train import train
from vae_tui.tui.cli import GROUPS, build_parser, flag, parse_request

BAD = [
    ("epochs", 0, "must be > 0"),
    ("batch_size", -3, "must be > 0"),
    ("lr", 0.0, "must be > 0"),
    ("lr", float("inf"), "must be a finite number"),
    ("lr", "0.1", "must be a number"),
    ("hidden_dim", 2.5, "must be an integer"),
    ("latent_dim", True, "must be an integer"),  # a bool is not a count
    ("input_dim", 0, "must be > 0"),  # no flag, checked all the same
    ("kl_anneal", "cosine", "must be one of linear, none, warmup, cyclical"),
    ("kl_warmup_epochs", 0, "must be > 0"),
    ("kl_cycles", 2.0, "must be an integer"),
    ("beta_max", -1, "must be ≥ 0"),
    ("seed", -1, "must be ≥ 0"),
    ("seed", MAX_SEED + 1, f"must be ≤ {MAX_SEED}"),
    ("device", "tpu", "must be one of auto, cpu, cuda, mps"),
    ("dataset", "cifar", "must be one of mnist, fashion-mnist"),
    ("data_dir", "", "the path is empty"),
    ("train_limit", 0, "must be > 0"),
    ("test_limit", "64", "must be an integer"),
    ("run_dir", 3, "must be a path"),
    ("swanlab", "online", "must be one of offline, cloud, disabled"),
    ("swanlab_monitor", "yes", "must be one of auto, on, off"),
    ("step", "compiled", "must be one of fused, autograd"),
    ("iwae_k", -1, "must be ≥ 0"),
]


@pytest.mark.parametrize(("name", "value", "problem"), BAD, ids=[f"{n}={v!r}" for n, v, _ in BAD])
def test_a_config_refuses_a_bad_value_and_names_the_field(name: str, value: Any, problem: str) -> None:
    with pytest.raises(InvalidConfigValue) as caught:
        TrainConfig(**{name: value})
    e = caught.value
    assert (e.name, e.value, e.problem) == (name, value, problem)
    assert str(e) == f"{name}={value!r}: {problem}"
    assert isinstance(e, ConfigError) and e.exit_code == 2
    with pytest.raises(InvalidConfigValue, match=name):  # a changed copy is checked too
        TrainConfig().with_(**{name: value})


def test_every_field_is_checked_and_its_edge_values_pass() -> None:
    assert {name for name, _, _ in BAD} == set(SETTINGS)
    TrainConfig(seed=MAX_SEED, beta_max=0, iwae_k=0, lr=1, train_limit=None, data_dir="d", run_dir="r")


def actions() -> dict[str, argparse.Action]:
    return {a.dest: a for a in build_parser()._actions}


@pytest.mark.parametrize("text", ["0", "-1", "-0", "0.5", "1e3", str(MAX_SEED + 1), "7"])
@pytest.mark.parametrize("name", [n for n, s in SETTINGS.items() if s.bound and s.help])
def test_a_number_flag_and_the_config_share_one_bound(name: str, text: str) -> None:
    """The flag refuses exactly what TrainConfig refuses, in the same words."""
    parse = actions()[name].type
    assert callable(parse)
    try:
        value = parse(text)
    except argparse.ArgumentTypeError as e:
        refused = str(e)
    else:
        TrainConfig(**{name: value})  # what the flag lets through, the config takes
        return
    if "is not a" in refused:  # not a number of the field's kind: nothing to compare
        return
    with pytest.raises(InvalidConfigValue) as caught:
        TrainConfig(**{name: SETTINGS[name].bound.kind(text)})  # type: ignore[union-attr]
    assert refused == f"{caught.value.problem}, got {text}"


def test_the_training_flags_are_the_fields() -> None:
    """One flag per field with a help (all but input_dim), in the fields' order within the section
    its metadata names, with the Literal's choices."""
    parser = build_parser()
    for key, title in GROUPS.items():
        (group,) = [g for g in parser._action_groups if g.title == title]
        expected = [flag(n) for n, s in SETTINGS.items() if s.group == key and s.help]
        assert [a.option_strings[0] for a in group._group_actions] == expected
    found = actions()
    assert (
        {n for n in found if n in SETTINGS}
        == {n for n, s in SETTINGS.items() if s.help}
        == (set(SETTINGS) - {"input_dim"})
    )
    assert found["dataset"].choices == get_args(Dataset) == choices("dataset")
    assert all(found[n].default is argparse.SUPPRESS for n in SETTINGS if n != "input_dim")


def valid_text(name: str) -> str:
    default = getattr(TrainConfig(), name)
    if default is not None:
        return str(default)
    return "somewhere" if SETTINGS[name].path else "10"


@pytest.mark.parametrize("evaluate", [True, False], ids=["eval", "browse"])
def test_eval_and_browsing_refuse_exactly_the_flags_their_fields_do_not_mark(
    evaluate: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    mode = ["--eval"] if evaluate else []
    for name, setting in SETTINGS.items():
        if setting.help is None:
            continue
        argv = [*mode, "--checkpoint", "m.pt", flag(name), valid_text(name)]
        try:
            request = parse_request(argv)
        except SystemExit:
            err = capsys.readouterr().err
            assert f"{flag(name)} does not apply" in err, (argv, err)
            assert not (setting.eval if evaluate else setting.browse), argv
        else:
            assert setting.eval if evaluate else setting.browse, argv
            assert list(request.overrides) == [name]


def changed(name: str, saved: TrainConfig) -> Any:
    """Another valid value for the field `name` than `saved`'s."""
    if options := choices(name):
        return next(o for o in options if o != getattr(saved, name))
    value = getattr(saved, name)
    if value is None:  # (a default that follows from other fields: --kl-warmup-epochs)
        return 3
    return value * 2 if isinstance(value, float) else value + 1


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory: pytest.TempPathFactory, mnist_dir: Path) -> TrainConfig:
    run = tmp_path_factory.mktemp("config") / "run"
    config = TrainConfig(epochs=1, batch_size=64, hidden_dim=16, latent_dim=2, train_limit=128,
                         test_limit=64, iwae_k=0, swanlab="disabled", device="cpu", run_dir=str(run))  # fmt: skip
    drive(train(config), [MetricsWriter()])
    return config


def test_a_resume_refuses_to_change_exactly_the_fields_marked_fixed(trained_run: TrainConfig) -> None:
    fixed = [n for n, s in SETTINGS.items() if s.fixed_on_resume]
    assert set(FIXED_ON_RESUME) == set(fixed)
    for name in fixed:
        value = changed(name, trained_run)
        with pytest.raises(ConfigError, match=f"with {flag(name)} {value} \\(saved: "):
            load_resume(trained_run.run_dir, {name: value})
    config, _ = load_resume(trained_run.run_dir, {"epochs": 2, "iwae_k": 3, "swanlab": "offline"})
    assert (config.epochs, config.iwae_k, config.swanlab) == (2, 3, "offline")


def test_a_resume_names_its_conflicts_in_the_order_it_always_has(trained_run: TrainConfig) -> None:
    """The order comes from the metadata's numbers, not the fields' order (lr is declared before
    the dimensions, and named after them)."""
    assert FIXED_ON_RESUME == ("hidden_dim", "latent_dim", "input_dim", "dataset", "seed", "batch_size",
                               "train_limit", "test_limit", "lr", "kl_anneal", "beta_max", "kl_warmup_epochs",
                               "kl_cycles")  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_resume(trained_run.run_dir, {"lr": 0.5, "seed": 3, "latent_dim": 8})
    assert str(caught.value) == (
        f"cannot resume {trained_run.run_dir} with --latent-dim 8 (saved: 2), --seed 3 (saved: 0), "
        "--lr 0.5 (saved: 0.001): start a new run for that"
    )


@pytest.mark.parametrize(
    ("data", "said"),
    [
        ({}, "it holds no run config"),
        ({"config": ["epochs", 3]}, "it holds no run config"),
        ({"config": {"epochs": 0}}, "its config has epochs=0"),
        ({"config": {"lr": float("nan")}}, "its config has lr=nan"),
        ({"config": {"dataset": "cifar", "future_field": 1}}, "its config has dataset='cifar'"),
        ({"config": {"seed": 2**40}}, f"its config has seed={2**40}"),
        ({"config": {"test_limit": "64"}}, "its config has test_limit='64'"),
    ],
)
def test_a_saved_config_is_held_to_the_same_checks(data: dict[str, Any], said: str) -> None:
    with pytest.raises(CheckpointError) as caught:
        saved_config(data, Path("r/checkpoint.pt"))
    assert str(caught.value) == f"cannot resume from r/checkpoint.pt: {said}"


def test_a_saved_config_from_a_newer_version_keeps_the_fields_it_knows() -> None:
    config = saved_config({"config": {"epochs": 3, "future_field": 1}}, Path("c.pt"))
    assert config == TrainConfig(epochs=3)
