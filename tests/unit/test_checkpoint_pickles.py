"""Module checkpoints named by a user load without running code from their pickles."""

from __future__ import annotations

import collections
import os
import pickle

import gymnasium as gym
import numpy as np
import pytest

from behaviorlab.platform.checkpoint_pickles import UntrustedCheckpoint, restricted_loads


class RunsACommand:
    """What a hostile pickle does: its rebuild calls os.system."""

    def __init__(self, command: str):
        self.command = command

    def __reduce__(self):
        return os.system, (self.command,)


def _global_then_call(module: str, name: str, argument: str) -> bytes:
    """Protocol-4 pickle of `module.name(argument)` (STACK_GLOBAL takes dotted names)."""
    def text(value: str) -> bytes:
        data = value.encode()
        return b"\x8c" + bytes([len(data)]) + data

    return (b"\x80\x04" + text(module) + text(name) + b"\x93" + text(argument) + b"\x85" + b"R" + b".")


def test_a_pickle_that_runs_a_command_is_refused_before_anything_runs(tmp_path):
    marker = tmp_path / "ran"
    data = pickle.dumps(RunsACommand(f"touch {marker}"))
    with pytest.raises(UntrustedCheckpoint, match=r"(posix|os)\.system.*--trust-checkpoint"):
        restricted_loads(data)
    assert not marker.exists()
    pickle.loads(data)  # the same bytes through plain pickle: the test's payload really runs
    assert marker.exists()


@pytest.mark.parametrize("module, name", [
    ("behaviorlab.platform.runner", "os.system"),  # an attribute walk from a trusted module
    ("behaviorlab.platform.runner", "subprocess"),  # a module, not a checkpoint class
    ("ray.rllib.utils.checkpoints", "try_import_msgpack"),  # a function of a trusted package
    ("builtins", "eval"),
    ("ray.cloudpickle.cloudpickle", "_make_skeleton_class"),  # a class pickled by value
    ("behaviorlab.algorithms.ptgm.__main__", "main"),  # importing a script runs it
    ("ray.rllib.algorithms.nonexistent", "Module"),  # RLlib would fall back to a default class
])
def test_globals_outside_a_module_checkpoint_are_refused(module, name):
    with pytest.raises(UntrustedCheckpoint, match=f"{module}.{name}"):
        restricted_loads(_global_then_call(module, name, "x"))


def test_what_a_module_checkpoint_holds_round_trips():
    from ray.rllib.algorithms.ppo.ppo_catalog import PPOCatalog
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule

    box = gym.spaces.Box(-1.0, 1.0, (3,), np.float32, seed=1)
    state = {
        "class": DefaultPPOTorchRLModule,
        "ctor_args_and_kwargs": ((), {"observation_space": box, "action_space": gym.spaces.Discrete(4),
                                      "model_config": {"fcnet_hiddens": [8]}, "catalog_class": PPOCatalog}),
        "weights": collections.OrderedDict(w=np.arange(6, dtype=np.float32).reshape(2, 3), b=np.float64(0.5)),
        "rng": np.random.default_rng(3), "ids": {1, 2}, "span": slice(1, 5),
    }
    loaded = restricted_loads(pickle.dumps(state, protocol=5))
    assert loaded["class"] is DefaultPPOTorchRLModule and loaded["ctor_args_and_kwargs"][1]["catalog_class"] is PPOCatalog
    assert loaded["ctor_args_and_kwargs"][1]["observation_space"] == box
    assert loaded["ctor_args_and_kwargs"][1]["action_space"] == gym.spaces.Discrete(4)
    np.testing.assert_array_equal(loaded["weights"]["w"], state["weights"]["w"])
    assert loaded["weights"]["b"] == 0.5 and loaded["ids"] == {1, 2} and loaded["span"] == slice(1, 5)
    assert loaded["rng"].integers(1000) == np.random.default_rng(3).integers(1000)


def _module_checkpoint(root):
    """A real RLlib checkpoint layout holding a PPO module, as `behaviorlab run` writes it."""
    from ray.rllib.algorithms.ppo.torch.default_ppo_torch_rl_module import DefaultPPOTorchRLModule
    from ray.rllib.core.rl_module.rl_module import RLModuleSpec

    from behaviorlab.platform.policy import CHECKPOINT_MARKER, MODULE_DIR

    module = RLModuleSpec(module_class=DefaultPPOTorchRLModule, observation_space=gym.spaces.Box(-1, 1, (4,)),
                          action_space=gym.spaces.Discrete(2), model_config={"fcnet_hiddens": [8]}).build()
    checkpoint = root / "checkpoint_000000"
    module.save_to_path(checkpoint / MODULE_DIR)
    (checkpoint / CHECKPOINT_MARKER).write_text("{}")
    return checkpoint, module


def test_load_policy_restores_a_real_module_checkpoint_and_refuses_a_tampered_one(tmp_path):
    import torch

    from behaviorlab.platform.policy import MODULE_DIR, PolicyError, load_policy

    checkpoint, module = _module_checkpoint(tmp_path)
    policy = load_policy(checkpoint)
    for name, tensor in module.state_dict().items():
        torch.testing.assert_close(policy.module.state_dict()[name], tensor)

    marker = tmp_path / "ran"
    (checkpoint / MODULE_DIR / "module_state.pkl").write_bytes(pickle.dumps(RunsACommand(f"touch {marker}")))
    with pytest.raises(PolicyError, match="system.*--trust-checkpoint"):
        load_policy(checkpoint)
    assert not marker.exists()
    with pytest.raises(PolicyError):  # opted in: RLlib's own unpickler runs the payload (then fails on its result)
        load_policy(checkpoint, trusted=True)
    assert marker.exists()
