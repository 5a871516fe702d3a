"""Minecraft through MineRL 1.0, speaking the VPT dataset's observation and action format, and
loading of VPT model files.

MineRL is optional (`pip install 'behaviorlab[minecraft]'`): it builds Minecraft with gradle when
it is installed, which needs a Java 8 JDK and internet access. Only `MineRLEnv` needs it; the
mappings and the model loader below are plain Python.

Mapping (the dataset side is behaviorlab.envs.datasets.vpt):
- observation: MineRL's `pov` (360×640 RGB) → {"pov": uint8[H, W, 3]} at the agent's input size,
  resized exactly as the dataset's frames. MineRL's other keys (inventory, location stats, …) are
  dropped: the VPT recordings have only pixels, and a policy trained on them sees only pixels.
- action: the dataset's action dict (0/1 buttons; camera = [pitch, yaw] degrees, positive = look
  down / turn right) ↔ MineRL 1.0's action dict, which has the same keys, order and signs. Buttons
  left out of an action are not pressed; camera is clipped to MineRL's ±180°.

VPT models come as `<name>.model` (a pickled dict whose `model.args.net.args` are the policy
network's constructor kwargs and `model.args.pi_head_opts` the action head's) and
`<name>.weights` (a torch state dict); `load_vpt_model` reads both.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from behaviorlab.envs.datasets.vpt import ACTION_KEYS, AGENT_SIZE, BUTTONS, CAMERA_LIMIT_DEGREES, resize_frame

INSTALL_HINT = ("MineRL envs need the minerl package (MineRL 1.0): pip install 'behaviorlab[minecraft]' "
                "(building it needs a Java 8 JDK, gradle and internet access)")
DEFAULT_ENV_ID = "MineRLBasaltFindCave-v0"
VPT_DOWNLOAD_HINT = ("download the model's .model and .weights files (links in the README of "
                     "github.com/openai/Video-Pre-Training) and pass their paths")


def require_minerl() -> None:
    """ImportError with the install command when MineRL is absent."""
    try:
        import minerl  # noqa: F401  (importing it registers the MineRL env ids with gym)
    except ImportError:
        raise ImportError(INSTALL_HINT) from None


def action_space() -> gym.spaces.Dict:
    """The VPT / MineRL 1.0 action space: a Discrete(2) per button, camera Box(-180, 180, (2,))."""
    spaces = {key: gym.spaces.Discrete(2) for key in BUTTONS}
    spaces["camera"] = gym.spaces.Box(-CAMERA_LIMIT_DEGREES, CAMERA_LIMIT_DEGREES, (2,), np.float32)
    return gym.spaces.Dict({key: spaces[key] for key in ACTION_KEYS})


def observation_space(size: tuple[int, int] = AGENT_SIZE) -> gym.spaces.Dict:
    return gym.spaces.Dict({"pov": gym.spaces.Box(0, 255, (size[0], size[1], 3), np.uint8)})


def _check_keys(action: Mapping) -> None:
    unknown = sorted(set(action) - set(ACTION_KEYS))
    if unknown:
        raise ValueError(f"action keys {unknown} are not VPT actions; valid: {', '.join(ACTION_KEYS)}")


def to_minerl_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A dataset/policy action (numpy or Python values, buttons possibly left out) → MineRL's action."""
    _check_keys(action)
    minerl_action: dict[str, Any] = {}
    for key in BUTTONS:
        value = int(np.asarray(action.get(key, 0)).item())
        if value not in (0, 1):
            raise ValueError(f"action[{key!r}] = {value}; buttons are 0 or 1")
        minerl_action[key] = value
    camera = np.asarray(action.get("camera", (0.0, 0.0)), np.float32).reshape(2)
    minerl_action["camera"] = np.clip(camera, -CAMERA_LIMIT_DEGREES, CAMERA_LIMIT_DEGREES)
    return {key: minerl_action[key] for key in ACTION_KEYS}


def from_minerl_action(action: Mapping[str, Any]) -> dict[str, Any]:
    """A MineRL action → the dataset's action (int64 buttons, float32 camera), e.g. to record play
    in the VPT dataset format."""
    converted = to_minerl_action(action)
    return {key: value if key == "camera" else np.int64(value) for key, value in converted.items()}


def to_agent_observation(obs: Mapping[str, Any], size: tuple[int, int] = AGENT_SIZE) -> dict[str, np.ndarray]:
    """MineRL's observation → the dataset's: the RGB `pov` at the agent's input size."""
    return {"pov": resize_frame(np.asarray(obs["pov"], np.uint8), size)}


class MineRLEnv(gym.Env):
    """A MineRL 1.0 env (e.g. MineRLBasaltFindCave-v0) as a gymnasium env with the VPT dataset's
    observation ({"pov"} at `size`) and action spaces. MineRL keeps OpenAI gym's API: its `done`
    becomes `truncated` when gym's time limit ended the episode, else `terminated`."""

    metadata = {"render_modes": []}

    def __init__(self, env_id: str = DEFAULT_ENV_ID, size: tuple[int, int] = AGENT_SIZE):
        require_minerl()
        import gym as openai_gym  # MineRL 1.0 registers its envs with OpenAI gym, not gymnasium

        self.size = (int(size[0]), int(size[1]))
        self.observation_space = observation_space(self.size)
        self.action_space = action_space()
        self._env = openai_gym.make(env_id)

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._env.seed(seed)  # MineRL seeds the world generator through gym's seed()
        return to_agent_observation(self._env.reset(), self.size), {}

    def step(self, action):
        obs, reward, done, info = self._env.step(to_minerl_action(action))
        truncated = bool(done and info.get("TimeLimit.truncated", False))
        return to_agent_observation(obs, self.size), float(reward), bool(done) and not truncated, truncated, info

    def close(self) -> None:
        self._env.close()


class VPTModelError(ValueError):
    """A VPT .model/.weights file that is missing or unusable; one line: `path: problem; fix`."""


@dataclass(frozen=True)
class VPTModel:
    policy_kwargs: dict  # the policy network's constructor kwargs (img_shape, hidsize, timesteps, …)
    pi_head_kwargs: dict  # the action head's options (temperature)
    state_dict: dict  # parameter name → torch.Tensor

    @property
    def image_size(self) -> tuple[int, int]:
        """(height, width) the network takes: the frame size to convert the VPT data at."""
        height, width = self.policy_kwargs["img_shape"][:2]
        return int(height), int(width)


class _KwargsUnpickler(pickle.Unpickler):
    """Unpickles plain data only: a .model file holds nested dicts of numbers, strings and lists,
    so any other class or function it names is refused rather than imported and run."""

    _ALLOWED = {("numpy", "dtype"), ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar")}

    def find_class(self, module: str, name: str):
        if (module, name) in self._ALLOWED:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"it names {module}.{name}, which a VPT .model file never does")


def load_vpt_model(model_file: str | Path, weights_file: str | Path) -> VPTModel:
    """Read a VPT `.model` (network kwargs) and `.weights` (state dict, loaded on the CPU)."""
    import torch  # here, not at the top: the env mappings should not pay torch's import time

    model_file, weights_file = Path(model_file), Path(weights_file)
    for file in (model_file, weights_file):
        if not file.is_file():
            raise VPTModelError(f"{file}: not found; {VPT_DOWNLOAD_HINT}")
    try:
        with model_file.open("rb") as stream:
            parameters = _KwargsUnpickler(stream).load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as error:
        raise VPTModelError(f"{model_file}: not a VPT .model file ({error}); {VPT_DOWNLOAD_HINT}") from None
    kwargs = {}
    for name, keys in (("policy_kwargs", ("model", "args", "net", "args")),
                       ("pi_head_kwargs", ("model", "args", "pi_head_opts"))):
        value = parameters
        for depth, key in enumerate(keys):
            if not isinstance(value, Mapping) or key not in value:
                raise VPTModelError(f"{model_file}:{'.'.join(keys[:depth + 1])}: missing; not a VPT .model file")
            value = value[key]
        if not isinstance(value, Mapping):
            raise VPTModelError(f"{model_file}:{'.'.join(keys)}: not a dict; not a VPT .model file")
        kwargs[name] = dict(value)
    if "temperature" in kwargs["pi_head_kwargs"]:
        kwargs["pi_head_kwargs"]["temperature"] = float(kwargs["pi_head_kwargs"]["temperature"])
    try:
        state_dict = torch.load(weights_file, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds (pickle, zip, runtime) for a bad file
        raise VPTModelError(f"{weights_file}: not a torch state dict ({type(error).__name__}: "
                            f"{str(error).splitlines()[0] if str(error) else ''}); {VPT_DOWNLOAD_HINT}") from None
    if not isinstance(state_dict, Mapping) or not all(isinstance(v, torch.Tensor) for v in state_dict.values()):
        raise VPTModelError(f"{weights_file}: not a state dict of tensors; {VPT_DOWNLOAD_HINT}")
    return VPTModel(kwargs["policy_kwargs"], kwargs["pi_head_kwargs"], dict(state_dict))
