"""SV-RL's learner: RLlib's DQN loss on a matrix-estimated next-state Q matrix of the target network."""

from __future__ import annotations

import torch
from ray.rllib.algorithms.dqn.dqn_learner import QF_TARGET_NEXT_PREDS
from ray.rllib.algorithms.dqn.torch.dqn_torch_learner import DQNTorchLearner

from behaviorlab.algorithms.common.matrix_estimation import approximate_rank, complete

GENERATOR_STATE = "svrl_generator"
UPDATES = "svrl_updates"
# Per-update diagnostics are averaged over this many updates (one B × |A| matrix is noisy).
STATS_WINDOW = 100


def imputation_error(matrix: torch.Tensor, completed: torch.Tensor, hidden: torch.Tensor) -> float:
    """‖Q† − M‖ over the hidden entries, relative to those entries' deviation from their row mean:
    the action-dependent part that decides greedy actions (relative to M itself, a large state
    value would make any error look small)."""
    centred = matrix - matrix.mean(-1, keepdim=True)
    return float((completed - matrix)[hidden].norm()) / max(float(centred[hidden].norm()), 1e-12)


@torch.no_grad()
def svrl_matrix(q_next: torch.Tensor, keep_prob: float, generator: torch.Generator,
                method: str = "soft_impute") -> tuple[torch.Tensor, dict[str, float]]:
    """Hide each entry of the [B, |A|] matrix with probability 1 − keep_prob (a Bernoulli mask drawn
    from `generator`), fill the hidden entries by matrix estimation, and measure what that did.

    Returns Q† (observed entries unchanged, on q_next's device and dtype) and the diagnostics:
    approximate rank of q_next (99 % energy), relative change ‖Q† − M‖ / ‖M‖, `imputation_error`
    (exact: the hidden values are known), share of rows whose greedy action changed.
    """
    matrix = q_next.detach().reshape(-1, q_next.shape[-1]).to("cpu", torch.float32)
    observed = torch.rand(matrix.shape, generator=generator) < keep_prob
    completed = complete(matrix, observed, method)
    hidden = ~observed
    norm = float(matrix.norm())
    stats = {
        "svrl_approx_rank": float(approximate_rank(torch.linalg.svdvals(matrix))),
        "svrl_relative_change": float((completed - matrix).norm()) / norm if norm > 0 else 0.0,
        "svrl_imputation_error": imputation_error(matrix, completed, hidden) if bool(hidden.any()) else 0.0,
        "svrl_greedy_changed": float((completed.argmax(-1) != matrix.argmax(-1)).float().mean()),
        "svrl_hidden_share": float(hidden.float().mean()),
    }
    return completed.reshape(q_next.shape).to(q_next.device, q_next.dtype), stats


class SVRLDQNTorchLearner(DQNTorchLearner):
    """Replaces `fwd_out[QF_TARGET_NEXT_PREDS]` (the target network on the next observations) by its
    completion Q† and lets RLlib's DQN loss do the rest: max (or, with double_q, the online net's
    argmax on its own unreconstructed Q(s', ·)) read from Q†, terminal masking, Huber loss,
    importance weights and prioritized-replay TD errors. Q† is a constant: no gradient through it."""

    def build(self) -> None:
        super().build()
        # Trial-seeded, so a run's masks are repeatable; its state is checkpointed with the learner.
        self._svrl_generator = torch.Generator().manual_seed(self.config.seed or 0)
        self._svrl_updates = 0

    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        keep_prob = config.keep_prob_at(self._svrl_updates)
        if keep_prob < 1.0:
            completed, stats = svrl_matrix(fwd_out[QF_TARGET_NEXT_PREDS], keep_prob, self._svrl_generator,
                                           config.svrl_method)
            fwd_out = {**fwd_out, QF_TARGET_NEXT_PREDS: completed}
            self.metrics.log_dict(stats, key=module_id, window=STATS_WINDOW)
        self.metrics.log_value((module_id, "svrl_keep_prob"), keep_prob, window=1)
        return super().compute_loss_for_module(module_id=module_id, config=config, batch=batch, fwd_out=fwd_out)

    def after_gradient_based_update(self, *, timesteps) -> None:
        super().after_gradient_based_update(timesteps=timesteps)
        self._svrl_updates += 1

    def get_state(self, components=None, *, not_components=None, **kwargs):
        state = super().get_state(components, not_components=not_components, **kwargs)
        if self._check_component(GENERATOR_STATE, components, not_components):
            state[GENERATOR_STATE] = self._svrl_generator.get_state()
            state[UPDATES] = self._svrl_updates
        return state

    def set_state(self, state) -> None:
        super().set_state(state)
        if GENERATOR_STATE in state:
            self._svrl_generator.set_state(state[GENERATOR_STATE])
            self._svrl_updates = state[UPDATES]
