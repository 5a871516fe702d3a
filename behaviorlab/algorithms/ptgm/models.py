"""The pre-trained networks: goal-conditioned low-level policy π_L(a|s,g) and goal prior π_p(code|s).

Both are MLPs over the flat observation; each is saved as one .pt file holding its constructor
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


_MODELS = {cls.__name__: cls for cls in (GoalConditionedPolicy, GoalPrior)}


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
