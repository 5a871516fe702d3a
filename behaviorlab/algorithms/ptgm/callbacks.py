"""PTGM's episode metrics, so its runs compare with flat RL on equal footing.

RLlib counts a PTGM env step as one HIGH-level step (one goal code, up to `steps_per_goal`
low-level steps). `PTGMCallbacks` (added by `GoalPriorConfigMixin.validate`) logs, from the env runners:

- `env_runners/low_level_env_steps_lifetime`: cumulative LOW-level env steps, summed from the
  goal-code env's `info["low_level_steps"]` (a lifetime sum over all env runners: compare it with
  a flat agent's `env_runners/num_env_steps_sampled_lifetime`).
- `env_runners/episode_success_mean`: the fraction of episodes whose last reward is > 0, over the
  same window as `episode_return_mean`. In BabyAI the only non-zero reward is the one for
  completing the mission (1 − 0.9·steps/max_steps), so this is the mission success rate.
"""

from __future__ import annotations

import math

from ray.rllib.callbacks.callbacks import RLlibCallback

LOW_LEVEL_STEPS = "low_level_env_steps_lifetime"
SUCCESS = "episode_success_mean"


class PTGMCallbacks(RLlibCallback):
    def on_episode_step(self, *, episode, metrics_logger=None, **kwargs) -> None:
        if metrics_logger is None:
            return
        info = episode.get_infos(-1)
        steps = info.get("low_level_steps", 1) if isinstance(info, dict) else 1
        metrics_logger.log_value(LOW_LEVEL_STEPS, int(steps), reduce="lifetime_sum")

    def on_episode_end(self, *, episode, env_runner=None, metrics_logger=None, **kwargs) -> None:
        if metrics_logger is None or len(episode) == 0:
            return
        config = getattr(env_runner, "config", None)
        window = 100 if config is None else max(
            1, math.ceil(config.metrics_num_episodes_for_smoothing / (config.num_env_runners or 1)))
        success = float(episode.get_rewards(-1) > 0)
        metrics_logger.log_value(SUCCESS, success, reduce="mean", window=window)
