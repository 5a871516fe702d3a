"""BC's learner: −log π(a_E | s_E) on minibatches of expert steps (algorithms/common/bc.py)."""

from __future__ import annotations

from ray.rllib.core.columns import Columns
from ray.rllib.core.learner.torch.torch_learner import TorchLearner

from behaviorlab.algorithms.common.bc import behaviour_cloning_loss


class BCTorchLearner(TorchLearner):
    def compute_loss_for_module(self, *, module_id, config, batch, fwd_out):
        dist_class = self.module[module_id].unwrapped().get_train_action_dist_cls()
        loss = behaviour_cloning_loss(fwd_out[Columns.ACTION_DIST_INPUTS], batch[Columns.ACTIONS], dist_class)
        self.metrics.log_value((module_id, "bc_loss"), loss.detach(), window=1)
        return loss
