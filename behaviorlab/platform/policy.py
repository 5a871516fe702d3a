"""Trained policies outside training: find a run's checkpoint, load its policy, act, play episodes.

`load_policy(path)` takes a run directory printed by `behaviorlab run` (its best trial's newest
checkpoint is used), a trial directory (its newest checkpoint) or a `checkpoint_*` directory, and
returns a `Policy` acting greedily (the mode of its action distribution) or by sampling from it.
Only the policy RLModule (`default_policy`) is loaded from the checkpoint's learner state: no Ray, no
env runners, no learner-only modules (a GAIL discriminator stays on disk). Actions come out as the
env takes them: a policy trained with RLlib's `normalize_actions` (the default) acts in [-1, 1] and
is rescaled to the env's Box here as RLlib's EnvRunners do. `evaluate_episodes` plays a policy on
the env it was trained on (Atari's life-loss and reward-sign options switched off, see
`evaluation_env_config`), optionally recording mp4 files with gymnasium's RecordVideo.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

CHECKPOINT_MARKER = "rllib_checkpoint.json"
MODULE_DIR = Path("learner_group", "learner", "rl_module", "default_policy")
FIND_HINT = "give a run directory printed by `behaviorlab run`, one of its trial directories, or a checkpoint_* directory"


class PolicyError(ValueError):
    """A path that holds no usable policy, or an env it cannot act in; one line with the fix."""


def _newest_checkpoint(trial_dir: Path) -> Path | None:
    checkpoints = [d for d in trial_dir.glob("checkpoint_*") if (d / CHECKPOINT_MARKER).is_file()]
    return max(checkpoints, key=lambda d: d.name) if checkpoints else None


def _best_trial(experiment_dir: Path) -> Path | None:
    """The trial with the best final value of the spec's tune metric (episode return by default)
    among those that saved a checkpoint."""
    from behaviorlab.platform.report import ReportError, load_experiment
    from behaviorlab.platform.spec import result_key

    try:
        experiment = load_experiment(experiment_dir)
    except ReportError:
        return None
    tune = experiment.spec.get("tune") or {}
    key, sign = result_key(tune.get("metric", "episode_return_mean")), (-1 if tune.get("mode") == "min" else 1)
    scored = [(sign * (trial.final(key) if trial.final(key) is not None else -np.inf), trial.name)
              for trial in experiment.trials if _newest_checkpoint(experiment_dir / trial.name)]
    return experiment_dir / max(scored)[1] if scored else None


def find_checkpoint(path: str | Path) -> Path:
    """The checkpoint directory `path` names (see the module docstring), as an absolute path (RLlib
    reads module checkpoints through pyarrow, which refuses relative paths); PolicyError if none."""
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise PolicyError(f"{path}: no such file or directory; {FIND_HINT}")
    if (path / CHECKPOINT_MARKER).is_file():
        checkpoint = path
    elif (path / "result.json").is_file():
        checkpoint = _newest_checkpoint(path)
    else:
        trial = _best_trial(path)
        checkpoint = _newest_checkpoint(trial) if trial else None
    if checkpoint is None:
        raise PolicyError(f"{path}: holds no checkpoint; {FIND_HINT} (runs save them with `checkpoint: {{at_end: true}}`)")
    if not (checkpoint / MODULE_DIR).is_dir():
        raise PolicyError(f"{checkpoint}: no policy module at {MODULE_DIR}; only new-API-stack RLlib checkpoints of "
                          f"single-agent runs can be loaded")
    return checkpoint


def spaces_differ(a: gym.Space, b: gym.Space) -> bool:
    """Whether a policy built for space `a` cannot act in / read space `b` (kind, shape, action count;
    Box bounds may differ, e.g. CartPole-v1 and seals/CartPole-v0)."""
    if type(a) is not type(b):
        return True
    if isinstance(a, gym.spaces.Discrete):
        return a.n != b.n
    return a.shape != b.shape


@dataclass
class Policy:
    module: Any  # the RLModule, in eval mode
    checkpoint: Path
    run_config: dict = field(default_factory=dict)  # the trial's params.json (algorithm config), {} if absent
    outputs_actions: bool = False  # set once its inference pass gave actions, not a distribution

    @property
    def observation_space(self) -> gym.Space:
        return self.module.observation_space

    @property
    def action_space(self) -> gym.Space:
        return self.module.action_space

    @property
    def env_id(self) -> str | None:
        return self.run_config.get("env")

    def act_batch(self, obs: np.ndarray, greedy: bool = True) -> np.ndarray:
        """Actions for a batch of observations [N, ...], as the env takes them: the mode of, or a sample
        from, the action distribution of the module's inference pass, which is how a module acts on its
        own (LBC with its configured ψ). A module whose inference pass outputs actions instead (DQN's
        argmax, STEVE's deterministic actor) acts with them either way, and `outputs_actions` says so."""
        import torch
        from ray.rllib.core.columns import Columns

        obs = np.asarray(obs)
        obs = obs.astype(np.float32) if obs.dtype == np.float64 else obs  # RLlib's nets are float32
        with torch.no_grad():
            out = self.module.forward_inference({Columns.OBS: torch.as_tensor(obs)})
            if Columns.ACTION_DIST_INPUTS in out:
                dist = self.module.get_inference_action_dist_cls().from_logits(out[Columns.ACTION_DIST_INPUTS])
                actions = (dist.to_deterministic() if greedy else dist).sample().numpy()
            else:
                self.outputs_actions = True
                actions = out[Columns.ACTIONS].numpy()
        if isinstance(self.action_space, gym.spaces.Box):
            from ray.rllib.utils.spaces.space_utils import clip_action, unsquash_action

            if self.run_config.get("normalize_actions", True):
                return unsquash_action(actions, self.action_space)
            if self.run_config.get("clip_actions", False):
                return clip_action(actions, self.action_space)
        return actions

    def act(self, obs: Any, greedy: bool = True) -> Any:
        """One action for one observation, as the env takes it."""
        action = self.act_batch(np.asarray(obs)[None], greedy)[0]
        return action.item() if isinstance(self.action_space, gym.spaces.Discrete) else action

    def check_env(self, env: gym.Env, env_id: str) -> None:
        for kind, mine, theirs in (("observation", self.observation_space, env.observation_space),
                                   ("action", self.action_space, env.action_space)):
            if spaces_differ(mine, theirs):
                raise PolicyError(f"{env_id}: its {kind} space {theirs} differs from the policy's {mine} "
                                  f"(trained on {self.env_id or 'another env'}); pick the env the policy was trained on")


def load_policy(path: str | Path, trusted: bool = False) -> Policy:
    """The policy of a run / trial / checkpoint directory (see find_checkpoint). Its pickles load
    through `checkpoint_pickles` (no code runs) unless `trusted`."""
    from ray.rllib.core.rl_module.rl_module import RLModule

    from behaviorlab.platform.checkpoint_pickles import checkpoint_pickles

    checkpoint = find_checkpoint(path)
    # RLlib's own deprecation notices while it rebuilds its module (logged through ray._common).
    loggers = [logging.getLogger(name) for name in ("ray.rllib", "ray._common.deprecation")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with checkpoint_pickles(trusted):
            module = RLModule.from_checkpoint(checkpoint / MODULE_DIR)
    except Exception as error:  # noqa: BLE001 - a damaged or foreign checkpoint fails in many ways
        raise PolicyError(f"{checkpoint}: cannot load its policy ({type(error).__name__}: {error}); "
                          f"re-create the checkpoint or point at another one") from None
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)
    module.eval()
    params = checkpoint.parent / "params.json"
    run_config = json.loads(params.read_text()) if params.is_file() else {}
    return Policy(module, checkpoint, run_config)


@dataclass
class Rollout:
    observations: list
    actions: list
    rewards: list[float]
    terminated: bool

    @property
    def episode_return(self) -> float:
        return float(sum(self.rewards))


def rollout(env: gym.Env, act: Callable[[Any], Any], seed: int | None = None) -> Rollout:
    """Play one episode with `act(obs) -> action`; observations are those the actions were taken in."""
    obs, _ = env.reset(seed=seed)
    observations, actions, rewards = [], [], []
    while True:
        action = act(obs)
        next_obs, reward, terminated, truncated, _ = env.step(action)
        observations.append(obs)
        actions.append(action)
        rewards.append(float(reward))
        obs = next_obs
        if terminated or truncated:
            return Rollout(observations, actions, rewards, bool(terminated))


# Atari options that change what an episode scores (life loss ends it, rewards become their sign):
# training may use them, an evaluation reports the game's own score.
SCORE_CHANGING_ATARI_OPTIONS = {"episodic_life": False, "clip_rewards": False}


def evaluation_env_config(env_id: str, env_config: dict | None) -> tuple[dict, str]:
    """The run's env_config with the training-only options that change the score switched off, and a
    line saying which wrappers stay (the policy needs its observation preprocessing)."""
    config = dict(env_config or {})
    if not env_id.startswith("ALE/"):
        return config, "the env and env_config the policy was trained with"
    import inspect

    from behaviorlab.envs.atari import make_atari

    settings = {name: param.default for name, param in inspect.signature(make_atari).parameters.items()
                if param.kind is param.KEYWORD_ONLY and name != "render_mode"}
    settings.update(config)
    config.update(SCORE_CHANGING_ATARI_OPTIONS)
    if not settings["preprocess"]:
        return config, "the plain ALE env (no preprocessing), as trained"
    kept = ", ".join(f"{name}={value}" for name, value in settings.items()
                     if name not in SCORE_CHANGING_ATARI_OPTIONS and name != "preprocess")
    off = ", ".join(f"{name}" for name in SCORE_CHANGING_ATARI_OPTIONS if settings[name])
    return config, f"Atari preprocessing kept ({kept}); " + (f"switched off: {off}" if off else
                                                             "no life-loss or reward-sign wrapper")


def episode_success(env_id: str, info: dict, terminated: bool, last_reward: float) -> bool | None:
    """Whether an episode succeeded, where the env says: gymnasium's `is_success` (or `success`) in
    the last info, BabyAI's positive reward on termination; None for envs with no notion of success."""
    for key in ("is_success", "success"):
        if key in info:
            return bool(info[key])
    if env_id.startswith("BabyAI-"):
        return terminated and last_reward > 0
    return None


@dataclass
class Episodes:
    returns: np.ndarray
    successes: np.ndarray | None  # one bool per episode, None when the env reports no success


def evaluate_episodes(policy: Policy, env_id: str, episodes: int, *, greedy: bool = True, seed: int = 0,
                      env_config: dict | None = None, video_dir: str | Path | None = None) -> Episodes:
    """`episodes` episodes, episode i reset with seed `seed + i`. Played side by side (one batched
    forward pass per step), or one after another into `video_dir` as `eval-episode-i.mp4` (gymnasium's
    RecordVideo, which keeps an episode's frames in memory until it ends)."""
    from behaviorlab.envs import EnvConfigError, check_env_config, make_env

    width = 1 if video_dir is not None else episodes
    config = {**(env_config or {}), **({"render_mode": "rgb_array"} if video_dir is not None else {})}
    if video_dir is not None:
        try:
            check_env_config(env_id, {"render_mode": "rgb_array"})
        except EnvConfigError:
            raise PolicyError(f"{env_id}: cannot record video, its creator takes no render_mode; "
                              "evaluate without --video") from None
    envs = [make_env(env_id, config) for _ in range(width)]
    policy.check_env(envs[0], env_id)
    if video_dir is not None:
        envs = [_record_video(envs[0], env_id, Path(video_dir))]
    returns, successes = np.zeros(episodes), []
    try:
        for start in range(0, episodes, width):
            group = range(start, min(start + width, episodes))
            obs = {i: envs[i - start].reset(seed=seed + i)[0] for i in group}
            alive = set(group)
            while alive:
                running = sorted(alive)
                actions = policy.act_batch(np.stack([obs[i] for i in running]), greedy)
                for i, action in zip(running, actions):
                    obs[i], reward, terminated, truncated, info = envs[i - start].step(
                        action.item() if action.ndim == 0 else action)
                    returns[i] += reward
                    if terminated or truncated:
                        alive.discard(i)
                        successes.append(episode_success(env_id, info, terminated, float(reward)))
    finally:
        for env in envs:
            env.close()  # RecordVideo writes the last episode's file here
    known = None not in successes
    return Episodes(returns, np.array(successes, bool) if known and successes else None)


def _record_video(env: gym.Env, env_id: str, video_dir: Path) -> gym.Env:
    if env.render_mode != "rgb_array":
        raise PolicyError(f"{env_id}: cannot record video, the env does not render rgb_array frames "
                          f"(its render_mode is {env.render_mode!r}); evaluate without --video")
    # Off-screen frames: pygame-rendered envs (classic control) otherwise probe for a display and a
    # sound card and print errors about both.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
    try:
        return gym.wrappers.RecordVideo(env, str(video_dir), name_prefix="eval", episode_trigger=lambda _: True,
                                        disable_logger=True)
    except gym.error.DependencyNotInstalled:
        raise PolicyError("--video needs the moviepy package (gymnasium's RecordVideo writes mp4 with it): "
                          "pip install 'behaviorlab[video]'") from None


def evaluate(policy: Policy, env_id: str, episodes: int, *, greedy: bool = True, seed: int = 0,
             env_config: dict | None = None) -> np.ndarray:
    """Returns of `episodes` episodes played side by side, episode i reset with seed `seed + i`."""
    return evaluate_episodes(policy, env_id, episodes, greedy=greedy, seed=seed, env_config=env_config).returns
