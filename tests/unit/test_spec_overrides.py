"""`--set KEY=VALUE` overrides, `${VAR}` interpolation and AlgorithmConfig import paths in specs."""

import pytest

from behaviorlab.platform.cli import main
from behaviorlab.platform.spec import SpecError, load_spec

GOOD = """\
algorithm: PPO
env: CartPole-v1
config: {lr: 0.0003}
stop: {env_steps: 1000}
"""


@pytest.fixture
def spec_file(tmp_path):
    path = tmp_path / "exp.yaml"
    path.write_text(GOOD)
    return path


def test_overrides_are_yaml_typed_and_validated_like_the_file(spec_file):
    spec = load_spec(spec_file, ["config.lr=1e-3", "stop.env_steps=5e4", "env=Acrobot-v1", "seeds=[1, 2]",
                                 "config.model_config={fcnet_hiddens: [32]}"])
    assert spec.config == {"lr": 0.001, "model_config": {"fcnet_hiddens": [32]}}
    assert spec.stop == {"env_steps": 50000.0} and spec.env == "Acrobot-v1" and spec.seeds == [1, 2]
    # The run records what it used, not the file.
    assert "lr: 0.001" in spec.effective_yaml(spec_file) and "Acrobot-v1" in spec.effective_yaml(spec_file)
    assert load_spec(spec_file).effective_yaml(spec_file) == GOOD  # no override: the file, comments and all


@pytest.mark.parametrize("override, key, words", [
    ("config.lrr=1e-3", "--set config.lrr", "did you mean 'lr'"),
    ("config.lr=abc", "--set config.lr", "RLlib rejects"),
    ("env=CartPol-v1", "--set env", "did you mean 'CartPole-v1'"),
    ("stop.env_steps=-5", "--set stop.env_steps", "must be positive"),
    ("stop=3", "--set stop", "valid dictionary"),
    ("config.lr.x=1", "--set config.lr.x", "is a float, not a mapping"),
    ("config.lr", "--set config.lr", "not KEY=VALUE"),
    ("config.lr=[1", "--set config.lr", "not a YAML value"),
    ("algorithm=PPX", "--set algorithm", "did you mean 'PPO'"),
])
def test_an_override_error_names_the_set_key(spec_file, capsys, override, key, words):
    assert main(["validate", str(spec_file), "--set", override]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: {spec_file}:{key}: ") and words in err and "\n" not in err


def test_environment_interpolation(spec_file, monkeypatch):
    # In a flow mapping `{...}` a reference must be quoted; in block style it need not be.
    spec_file.write_text("algorithm: PPO\nenv: ${ENV_ID}\nconfig:\n  lr: ${LR:-3e-4}\nstop: {env_steps: 1000}\n"
                         "name: 'run-${TAG:-x}-${TAG2:-y}'\n")
    monkeypatch.setenv("ENV_ID", "Acrobot-v1")
    spec = load_spec(spec_file)
    assert spec.config["lr"] == 0.0003 and spec.env == "Acrobot-v1" and spec.name == "run-x-y"
    assert "${" not in spec.effective_yaml(spec_file)
    monkeypatch.setenv("LR", "1e-2")
    monkeypatch.setenv("TAG", "a")
    spec = load_spec(spec_file)
    assert spec.config["lr"] == 0.01 and spec.name == "run-a-y"
    monkeypatch.delenv("ENV_ID")
    with pytest.raises(SpecError, match=r"exp.yaml:env: environment variable ENV_ID is not set; export ENV_ID"):
        load_spec(spec_file)


@pytest.mark.parametrize("algorithm, words", [
    ("ray.rllib.algorithms.ppo:PPO", "'ray.rllib.algorithms.ppo:PPO' is a class, not an AlgorithmConfig subclass"),
    ("os:path", "is a module, not an AlgorithmConfig subclass"),
    ("ray.rllib.algorithms.ppo:Nothing", "is not defined in the module"),
    ("no_such_module:Config", "cannot import module 'no_such_module'"),
])
def test_algorithm_import_path_must_be_an_algorithm_config(spec_file, algorithm, words):
    with pytest.raises(SpecError, match="exp.yaml:--set algorithm: ") as error:
        load_spec(spec_file, [f"algorithm={algorithm}"])
    assert words in str(error.value)


def test_algorithm_import_path_is_validated_like_a_registered_name(spec_file):
    spec = load_spec(spec_file, ["algorithm=ray.rllib.algorithms.dqn:DQNConfig"])
    assert spec.algorithm == "ray.rllib.algorithms.dqn:DQNConfig"
    with pytest.raises(SpecError, match=r"--set config.lrr: DQNConfig has no field 'lrr'"):
        load_spec(spec_file, ["algorithm=ray.rllib.algorithms.dqn:DQNConfig", "config.lrr=1"])
