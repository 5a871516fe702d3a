"""The pre-trained networks: goal-conditioned low-level policy π_L(a|s,g) and goal prior π_p(code|s).

Both are MLPs over the flat observation; each is saved as one .pt file holding its constructor
arguments next to its weights, so loading needs nothing but the path.
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
    path = Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"class": type(model).__name__, "kwargs": model.kwargs, "state_dict": model.state_dict(),
                "extra": extra or {}}, path)


def load_model(path: str | Path) -> tuple[nn.Module, dict]:
    """(model in eval mode, the `extra` dict saved with it)."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no model file; make it with `python -m behaviorlab.algorithms.ptgm`")
    saved = torch.load(path, map_location="cpu", weights_only=False)
    model = _MODELS[saved["class"]](**saved["kwargs"])
    model.load_state_dict(saved["state_dict"])
    return model.eval(), saved["extra"]
