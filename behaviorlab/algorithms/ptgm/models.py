"""The pre-trained networks: goal-conditioned low-level policy π_L(a|s,g) and goal prior π_p(code|s);
for the continuous-skill baseline, the skill encoder q(z|s, a_0:k) and the skill prior p(z|s)
(its decoder is a `GoalConditionedPolicy` whose goal slot carries z).

All are MLPs over the flat observation; each is saved as one .pt file holding its constructor
arguments next to its weights, so loading needs nothing but the path. The file holds only tensors
and plain data (str, int, float, bool, None, lists, dicts) and is loaded with `weights_only=True`:
a model path comes from a spec, and a full unpickle of a crafted file would run its code.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


def _mlp(inputs: int, hidden: tuple[int, ...], outputs: int) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden:
        layers += [nn.Linear(inputs, width), nn.ReLU()]
        inputs = width
    return nn.Sequential(*layers, nn.Linear(inputs, outputs))


class GoalConditionedPolicy(nn.Module):
    """Action logits from (observation, goal embedding, goal present). A dropped goal (classifier-free
    guidance style) is zeroed and flagged absent, so the same net is also an unconditional policy."""

    def __init__(self, obs_dim: int, goal_dim: int, num_actions: int, hidden: tuple[int, ...] = (256, 256)):
        super().__init__()
        self.kwargs = {"obs_dim": obs_dim, "goal_dim": goal_dim, "num_actions": num_actions, "hidden": tuple(hidden)}
        self.net = _mlp(obs_dim + goal_dim + 1, tuple(hidden), num_actions)

    def forward(self, obs: torch.Tensor, goal: torch.Tensor, goal_present: torch.Tensor | None = None) -> torch.Tensor:
        if goal_present is None:
            goal_present = torch.ones(len(obs), dtype=obs.dtype, device=obs.device)
        present = goal_present.to(obs.dtype).unsqueeze(-1)
        return self.net(torch.cat([obs, goal * present, present], dim=-1))


class GoalPrior(nn.Module):
    """Logits over the codebook's codes from the observation."""

    def __init__(self, obs_dim: int, num_codes: int, hidden: tuple[int, ...] = (256, 256)):
        super().__init__()
        self.kwargs = {"obs_dim": obs_dim, "num_codes": num_codes, "hidden": tuple(hidden)}
        self.net = _mlp(obs_dim, tuple(hidden), num_codes)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        return self.net(obs)


LOG_STD_RANGE = (-5.0, 2.0)  # keeps σ in [0.007, 7.4]: no collapse to 0 or overflow in exp


class _GaussianHead(nn.Module):
    """(mean, log_std) [B, latent_dim] of a diagonal Gaussian from an MLP of `inputs`."""

    def __init__(self, inputs: int, latent_dim: int, hidden: tuple[int, ...]):
        super().__init__()
        self.net = _mlp(inputs, tuple(hidden), 2 * latent_dim)

    def gaussian(self, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mean, log_std = self.net(inputs).chunk(2, dim=-1)
        return mean, log_std.clamp(*LOG_STD_RANGE)


class SkillEncoder(_GaussianHead):
    """q(z | s_0, a_0 … a_{k−1}): the skill VAE's posterior over a k-step action segment, from
    the segment's first observation and its one-hot actions (an MLP where SPiRL uses an LSTM:
    k is fixed)."""

    def __init__(self, obs_dim: int, num_actions: int, skill_length: int, latent_dim: int,
                 hidden: tuple[int, ...] = (256, 256)):
        super().__init__(obs_dim + skill_length * num_actions, latent_dim, hidden)
        self.kwargs = {"obs_dim": obs_dim, "num_actions": num_actions, "skill_length": skill_length,
                       "latent_dim": latent_dim, "hidden": tuple(hidden)}

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """obs [B, obs_dim], actions [B, k] (integers) → (mean, log_std) [B, latent_dim]."""
        one_hot = nn.functional.one_hot(actions, self.kwargs["num_actions"]).to(obs.dtype).flatten(1)
        return self.gaussian(torch.cat([obs, one_hot], dim=-1))


class SkillPrior(_GaussianHead):
    """p(z | s): the learned skill prior, a diagonal Gaussian from the observation (SPiRL's)."""

    def __init__(self, obs_dim: int, latent_dim: int, hidden: tuple[int, ...] = (256, 256)):
        super().__init__(obs_dim, latent_dim, hidden)
        self.kwargs = {"obs_dim": obs_dim, "latent_dim": latent_dim, "hidden": tuple(hidden)}

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.gaussian(obs)


_MODELS = {cls.__name__: cls for cls in (GoalConditionedPolicy, GoalPrior, SkillEncoder, SkillPrior)}


def save_model(path: str | Path, model: nn.Module, extra: dict | None = None) -> None:
    """`extra`: plain data (settings, provenance) returned by `load_model`."""
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    kwargs = {key: list(value) if isinstance(value, tuple) else value for key, value in model.kwargs.items()}
    torch.save({"class": type(model).__name__, "kwargs": kwargs, "state_dict": dict(model.state_dict()),
                "extra": dict(extra or {})}, path)


def _first_sentence(error: Exception) -> str:
    """What torch says is wrong with a file: the line naming a refused object when the weights-only
    unpickler refused one (not its advice to load with weights_only=False, which would run it)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    line = next((line for line in lines if "unsupported" in line.lower()), lines[0] if lines else type(error).__name__)
    return line.split(". ")[0].rstrip(".")


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """(model in eval mode, the `extra` dict saved with it); ValueError (one line) for a file that
    is not such a model, including one holding anything but tensors and plain data."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file; make it with `python -m behaviorlab.algorithms.ptgm`")
    remake = "give a file written by `python -m behaviorlab.algorithms.ptgm`"
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds (pickle, zip, runtime) for a bad file
        raise ValueError(f"{path}: not loaded: not a PTGM model file ({_first_sentence(error)}); {remake}") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("class"), str) or saved["class"] not in _MODELS:
        raise ValueError(f"{path}: not a PTGM model file (it holds no 'class' naming {' or '.join(_MODELS)}); {remake}")
    try:
        # Built without memory and given the file's tensors, which must match its shapes: sizes in
        # `kwargs` cannot make it allocate more than the file holds.
        with torch.device("meta"):
            model = _MODELS[saved["class"]](**saved["kwargs"])
        model.load_state_dict(saved["state_dict"], assign=True)
        extra = dict(saved["extra"])
    except (KeyError, TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ValueError(f"{path}: damaged PTGM model file ({type(error).__name__}: "
                         f"{' '.join(str(error).split())[:200]}); {remake}") from None
    return model.eval(), extra
