"""wandb settings: the environment (WANDB_MODE / PROJECT / ENTITY / DIR) wins over the spec, online
only with a key, and the spec checks what wandb would refuse."""

from __future__ import annotations

from pathlib import Path

import pytest

from behaviorlab.platform.spec import SpecError, Wandb, load_spec
from behaviorlab.platform.wandb_settings import WandbSettingsError, key_configured, resolve


def test_the_environment_wins_over_the_spec(tmp_path):
    spec = Wandb(project="spec-project", entity="spec-team", mode="offline", tags=["a"], settings={"init_timeout": 60})
    env = {"WANDB_MODE": "disabled", "WANDB_PROJECT": "env-project", "WANDB_ENTITY": "env-team",
           "WANDB_DIR": str(tmp_path / "w")}
    settings = resolve(spec, "exp", env, has_key=False)
    assert (settings.mode, settings.project, settings.entity, settings.dir) == (
        "disabled", "env-project", "env-team", str(tmp_path / "w"))
    assert settings.group == "exp"
    assert settings.init_kwargs() == {"mode": "disabled", "entity": "env-team", "dir": str(tmp_path / "w"),
                                      "tags": ["a"], "settings": {"init_timeout": 60}}
    assert settings.offline_runs("/r/exp") == f"{tmp_path}/w/wandb/offline-run-*"


def test_without_the_environment_the_spec_applies_and_the_default_follows_the_key():
    assert resolve(Wandb(mode="disabled", entity="team"), "exp", {}, has_key=True).entity == "team"
    assert resolve(Wandb(), "exp", {}, has_key=True).mode == "online"
    assert resolve(Wandb(), "exp", {}, has_key=False).mode == "offline"
    no_key = resolve(Wandb(mode="online", group="g"), "exp", {"WANDB_MODE": "online"}, has_key=False)
    assert no_key.mode == "offline" and no_key.group == "g" and no_key.offline_runs("/r/exp") == "/r/exp/*/wandb/offline-run-*"
    assert resolve(Wandb(), "exp", {"WANDB_MODE": "dryrun"}, has_key=True).mode == "offline"  # wandb's alias
    assert resolve(Wandb(), "exp", {}, has_key=True).init_kwargs() == {"mode": "online"}


def test_relative_wandb_dir_is_made_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert resolve(Wandb(), "exp", {"WANDB_DIR": "logs"}, has_key=False).dir == str(tmp_path / "logs")


def test_a_bad_wandb_mode_is_refused():
    with pytest.raises(WandbSettingsError, match="WANDB_MODE='sometimes' is not a wandb mode"):
        resolve(Wandb(), "exp", {"WANDB_MODE": "sometimes"}, has_key=False)


def test_key_from_the_environment_or_netrc(tmp_path):
    netrc = tmp_path / ".netrc"
    assert not key_configured({}, netrc)
    assert key_configured({"WANDB_API_KEY": "k"}, netrc)
    netrc.write_text("machine api.wandb.ai\n  login user\n  password k\n")
    assert key_configured({}, netrc)


SPEC = "algorithm: PPO\nenv: CartPole-v1\nstop: {env_steps: 1000}\n"


@pytest.mark.parametrize("wandb, key, message", [
    ("{settings: {init_timout: 60}}", "logging.wandb.settings.init_timout", "did you mean 'init_timeout'"),
    ("{settings: {init_timeout: soon}}", "logging.wandb.settings.init_timeout", "valid number"),
])
def test_spec_checks_wandb_settings(tmp_path: Path, wandb, key, message):
    file = tmp_path / "exp.yaml"
    file.write_text(SPEC + f"logging: {{wandb: {wandb}}}\n")
    with pytest.raises(SpecError) as error:
        load_spec(file)
    assert error.value.key == key and message in str(error.value)


def test_spec_accepts_entity_and_settings_and_refuses_a_bad_environment_mode(tmp_path, monkeypatch):
    file = tmp_path / "exp.yaml"
    file.write_text(SPEC + "logging: {wandb: {entity: my-team, settings: {init_timeout: 120}}}\n")
    spec = load_spec(file)
    assert spec.logging.wandb.entity == "my-team" and spec.logging.wandb.mode is None
    monkeypatch.setenv("WANDB_MODE", "sometimes")
    with pytest.raises(SpecError, match="WANDB_MODE='sometimes'"):
        load_spec(file)
