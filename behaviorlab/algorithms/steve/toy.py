"""The paper's toy value-estimation study (Buckman et al. 2018, Figure 1; official `toy_demo.py`
setup), built on this package's target functions so it checks them too.

A chain of 101 non-terminal states under a fixed policy: s → s + 1, reward −1 per step and +100
on entering the terminal state, γ = 1, so V(s) = s (`states` shortens the chain, the final reward
staying states − 1). Tabular value estimates, initialised uniformly in [0, states), are set to
their target (learning rate 1). One train step updates each of the L tables at its own uniformly
drawn state; the real first step is always exact. The model used for the H imagined steps is either the oracle or a noisy one that jumps to a uniformly random
state with probability 0.1; a noisy ensemble has M independently noisy members.
"""

from __future__ import annotations

import torch

from behaviorlab.algorithms.steve.targets import candidate_targets, reduce_candidates

NOISE = 0.1


def chain_step(states: torch.Tensor, count: int, noisy: bool,
               generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the chain of `count` non-terminal states (index `count` is terminal), or of the
    noisy model, for a tensor of states → next states, rewards."""
    terminal = states == count
    rewards = torch.where(states + 1 == count, float(count - 1), -1.0)
    rewards = torch.where(terminal, 0.0, rewards)
    next_states = torch.where(terminal, states, states + 1)
    if noisy:
        jump = torch.rand(states.shape, generator=generator) < NOISE
        random_states = torch.randint(0, count, states.shape, generator=generator)
        next_states = torch.where(jump & ~terminal, random_states, next_states)
    return next_states, rewards


def value_error(q: torch.Tensor) -> torch.Tensor:
    """MSE of the ensemble-mean estimate against V(s) = s over the non-terminal states, per seed."""
    count = q.shape[-1] - 1
    return ((q.mean(1)[:, :count] - torch.arange(count, dtype=q.dtype)) ** 2).mean(-1)


def run(reduction: str, *, horizon: int = 5, q_members: int = 8, model_members: int = 1, noisy: bool = False,
        seeds: int = 4, steps: int = 10_000, threshold: float = 1.0, states: int = 101) -> dict[str, torch.Tensor]:
    """Train `seeds` independent runs in lockstep on a chain of `states` non-terminal states (the
    paper's 101 by default) → `steps_to_threshold` [seeds] (the first train step whose value error
    is below `threshold`; -1 if never) and `errors` [steps, seeds]."""
    count = states
    generator = torch.Generator().manual_seed(0)
    q = torch.randint(0, count, (seeds, q_members, count + 1), generator=generator).double()
    q[..., count] = 0.0
    horizon = 0 if reduction == "td" else horizon
    seed_index = torch.arange(seeds)[:, None].expand(seeds, q_members)
    member_index = torch.arange(q_members)[None, :].expand(seeds, q_members)
    errors = torch.empty(steps, seeds, dtype=q.dtype)
    for step in range(steps):
        starts = torch.randint(0, count, (seeds, q_members), generator=generator)
        next_states, rewards = chain_step(starts, count, False, generator)
        # Imagined rollouts from the real s', one per model member: [seeds, L, M].
        rollout = next_states[..., None].expand(seeds, q_members, model_members)
        visited, model_rewards, model_continuation = [rollout], [], []
        for _ in range(horizon):
            model_continuation.append((rollout != count).double())
            rollout, reward = chain_step(rollout, count, noisy, generator)
            visited.append(rollout)
            model_rewards.append(reward)
        visited = torch.stack(visited, dim=2)                                       # [seeds, L, H+1, M]
        # bootstrap_q[..., i, m, l] = Q_l(s'_i on model m's rollout), gathered per seed.
        bootstrap = q[seed_index[..., None, None, None], torch.arange(q_members), visited[..., None]]
        flat = seeds * q_members
        candidates = candidate_targets(
            rewards.double().reshape(flat), (next_states != count).double().reshape(flat),
            torch.stack(model_rewards, 2).reshape(flat, horizon, model_members, 1) if horizon else
            q.new_zeros(flat, 0, model_members, 1),
            torch.stack(model_continuation, 2).reshape(flat, horizon, model_members) if horizon else
            q.new_zeros(flat, 0, model_members),
            bootstrap.reshape(flat, horizon + 1, model_members, q_members), gamma=1.0)
        targets, _ = reduce_candidates(candidates, reduction)
        q[seed_index, member_index, starts] = targets.reshape(seeds, q_members)
        errors[step] = value_error(q)
    below = errors < threshold
    first = torch.where(below.any(0), below.double().argmax(0) + 1, torch.full((seeds,), -1.0, dtype=q.dtype))
    return {"steps_to_threshold": first, "errors": errors}
