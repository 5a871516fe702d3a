"""The high-level envs: the action is a goal code (PTGM) or a continuous skill z (the VAE-skill
baseline); π_L pursues that goal for k low-level steps.

Reward of one high-level step = the sum of the env rewards of its low-level steps. The −λ·KL
part of PTGM's per-step reward is not added here: it needs the high-level policy's probabilities,
which the env never sees; the PTGM learners add it to the rewards (see learner.py).
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from behaviorlab.algorithms.ptgm.goals import load_codebook
from behaviorlab.algorithms.ptgm.models import GoalConditionedPolicy, load_model

LowLevelPolicy = Callable[[np.ndarray, np.ndarray], int]


class HighLevelEnv(gym.Wrapper):
    """One high-level step = `policy(obs, goal)` acting `steps_per_goal` low-level steps towards
    `self.goal(action)` (subclasses say what an action means); observation space unchanged.

    A high-level step ends early when the episode does; `info["low_level_steps"]` says how many
    steps it took.
    """

    def __init__(self, env: gym.Env, policy: LowLevelPolicy, steps_per_goal: int):
        super().__init__(env)
        if steps_per_goal < 1:
            raise ValueError(f"steps_per_goal must be at least 1, not {steps_per_goal}")
        self.policy = policy
        self.steps_per_goal = steps_per_goal
        self._obs = None

    def goal(self, action) -> np.ndarray:
        raise NotImplementedError

    def reset(self, *, seed=None, options=None):
        # As gymnasium asks of reset(seed): seed all the env's randomness, π_L's sampling included
        # (RLlib seeds the first reset from the trial seed, so runs repeat).
        if seed is not None and isinstance(self.policy, SampledLowLevelPolicy):
            self.policy.generator.manual_seed(seed)
        self._obs, info = self.env.reset(seed=seed, options=options)
        return self._obs, info

    def step(self, action):
        goal = self.goal(action)
        total, terminated, truncated, info, steps = 0.0, False, False, {}, 0
        while steps < self.steps_per_goal and not (terminated or truncated):
            self._obs, reward, terminated, truncated, info = self.env.step(self.policy(self._obs, goal))
            total += float(reward)
            steps += 1
        return self._obs, total, terminated, truncated, {**info, "low_level_steps": steps}


class GoalCodeEnv(HighLevelEnv):
    """PTGM's: Discrete(num codes) actions; the goal is the code's embedding."""

    def __init__(self, env: gym.Env, policy: LowLevelPolicy, codes: np.ndarray, steps_per_goal: int):
        super().__init__(env, policy, steps_per_goal)
        self.codes = np.asarray(codes, np.float32)
        self.action_space = gym.spaces.Discrete(len(self.codes))

    def goal(self, action) -> np.ndarray:
        return self.codes[int(action)]


class SkillEnv(HighLevelEnv):
    """The continuous-skill baseline's: the action is the skill z ∈ Box(−bound, bound, (latent_dim,)),
    clipped to the box (RLlib's Gaussian samples are unbounded), and π_L is the skill decoder, whose
    goal input carries z."""

    def __init__(self, env: gym.Env, policy: LowLevelPolicy, latent_dim: int, steps_per_skill: int,
                 bound: float = 3.0):
        super().__init__(env, policy, steps_per_skill)
        if bound <= 0:
            raise ValueError(f"bound must be > 0, not {bound}")
        self.action_space = gym.spaces.Box(-bound, bound, (latent_dim,), np.float32)

    def goal(self, action) -> np.ndarray:
        return np.clip(np.asarray(action, np.float32), self.action_space.low, self.action_space.high)


class SampledLowLevelPolicy:
    """π_L as `policy(obs, goal) -> action`: samples from its action distribution (seeded), or
    takes the most likely action when `greedy`.

    `guidance` > 0 acts with classifier-free guidance (as STEVE-1 does for VPT): logits
    ℓ_g + w·(ℓ_g − ℓ_∅), where ℓ_∅ are π_L's logits with the goal dropped, which pushes the
    action further towards what the goal changes. It needs a π_L trained with goal dropout > 0
    (otherwise ℓ_∅ is untrained); w = 0 is the plain conditional policy.
    """

    def __init__(self, model: GoalConditionedPolicy, *, greedy: bool = False, seed: int | None = None,
                 guidance: float = 0.0):
        if guidance < 0:
            raise ValueError(f"guidance must be ≥ 0 (0 = no guidance), not {guidance}")
        self.model = model
        self.greedy = greedy
        self.guidance = guidance
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()  # a fresh random seed
        else:
            self.generator.manual_seed(seed)

    @torch.no_grad()
    def logits(self, obs: np.ndarray, goal: np.ndarray) -> torch.Tensor:
        obs_t, goal_t = torch.as_tensor(obs, dtype=torch.float32)[None], torch.as_tensor(goal)[None]
        conditional = self.model(obs_t, goal_t)[0]
        if not self.guidance:
            return conditional
        unconditional = self.model(obs_t, goal_t, torch.zeros(1))[0]
        return guided_logits(conditional, unconditional, self.guidance)

    def __call__(self, obs: np.ndarray, goal: np.ndarray) -> int:
        logits = self.logits(obs, goal)
        if self.greedy:
            return int(logits.argmax())
        return int(torch.multinomial(torch.softmax(logits, -1), 1, generator=self.generator))


def guided_logits(conditional: torch.Tensor, unconditional: torch.Tensor, guidance: float) -> torch.Tensor:
    """Classifier-free guidance: ℓ_g + w·(ℓ_g − ℓ_∅)."""
    return conditional + guidance * (conditional - unconditional)


def make_goal_code_env(env_id: str, low_level: str, codebook: str, steps_per_goal: int = 5, greedy: bool = False,
                       guidance: float = 0.0, env_config: dict | None = None, seed: int | None = None) -> gym.Env:
    """A downstream task driven through the pre-trained π_L and codebook (paths as the stages wrote them).

    Args:
        env_id: the downstream env, a registered id with flat observations like the dataset's
            (a BabyAI level, or Crafter-v1 with `env_config: {task: <achievement>}`).
        low_level: π_L file from the `bc` stage.
        codebook: codebook .npz from the `goals` stage.
        steps_per_goal: k, low-level steps per high-level action.
        greedy: π_L takes its most likely action instead of sampling.
        guidance: classifier-free guidance weight w for π_L (0: none; see SampledLowLevelPolicy).
        env_config: kwargs of the downstream env (e.g. max_episode_steps).
        seed: seed of π_L's action sampling (a seeded reset reseeds it).
    """
    from behaviorlab.envs import make_env

    model, _ = load_model(low_level)
    book = load_codebook(codebook)
    policy = SampledLowLevelPolicy(model, greedy=greedy, seed=seed, guidance=guidance)
    return GoalCodeEnv(make_env(env_id, env_config), policy, book.codes, steps_per_goal)


def make_skill_env(env_id: str, decoder: str, steps_per_skill: int | None = None, bound: float = 3.0,
                   greedy: bool = False, env_config: dict | None = None, seed: int | None = None) -> gym.Env:
    """A downstream task driven through the skill decoder of the `skills` stage (the continuous-skill
    baseline): the high level picks z every `steps_per_skill` low-level steps.

    Args:
        env_id: the downstream env, as for `make_goal_code_env`.
        decoder: decoder file from the `skills` stage (a GoalConditionedPolicy over (s, z)).
        steps_per_skill: low-level steps per z (default: the skill length it was trained on).
        bound: z is clipped to [−bound, bound] per dimension (the skill prior is N(0, I)-like).
        greedy: the decoder takes its most likely action instead of sampling.
        env_config: kwargs of the downstream env.
        seed: seed of the decoder's action sampling (a seeded reset reseeds it).
    """
    from behaviorlab.envs import make_env

    model, settings = load_model(decoder)
    if "skill_length" not in settings:
        raise ValueError(f"{decoder}: not a skill decoder (no skill_length); make it with the `skills` stage")
    policy = SampledLowLevelPolicy(model, greedy=greedy, seed=seed)
    return SkillEnv(make_env(env_id, env_config), policy, model.kwargs["goal_dim"],
                    steps_per_skill or settings["skill_length"], bound)
