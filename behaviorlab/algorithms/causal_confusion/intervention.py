"""Targeted intervention (de Haan et al. 2019, Alg. 1 and 2), pure numpy + scikit-learn.

A soft belief over graphs p(G) ∝ exp⟨w, G⟩ factorises into independent bits G_j ~ Bernoulli(σ(w_j/T))
(official code: T = 10). Each round samples G, scores it, refits w by ridge regression (α = 1, with
intercept) of the scores on the graphs so far, and the answer is the mode, 1[w_j > 0] per bit.
Scores are *higher-is-better*: episode returns in policy-execution mode (Alg. 2); in expert-query
mode (Alg. 1) the score is the NEGATIVE loss on the expert-labelled states — regressing the loss
itself and taking the mode would return the worst graph."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import Ridge


def bit_probabilities(w: np.ndarray, temperature: float = 10.0) -> np.ndarray:
    """P(G_j = 1) = σ(w_j / T) under p(G) ∝ exp⟨w/T, G⟩."""
    return 1.0 / (1.0 + np.exp(-np.asarray(w, float) / temperature))


def sample_graph(w: np.ndarray, rng: np.random.Generator, temperature: float = 10.0) -> np.ndarray:
    return (rng.random(len(w)) < bit_probabilities(w, temperature)).astype(float)


def mode_graph(w: np.ndarray) -> np.ndarray:
    """argmax_G ⟨w, G⟩: keep exactly the factors with a positive weight."""
    return (np.asarray(w) > 0).astype(float)


def fit_graph_weights(graphs: np.ndarray, scores: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """w of the ridge regression score ≈ ⟨w, G⟩ + b."""
    return Ridge(alpha=alpha, fit_intercept=True).fit(np.asarray(graphs, float), np.asarray(scores, float)).coef_


@dataclass
class InterventionResult:
    graphs: list = field(default_factory=list)  # the graph sampled in each round
    scores: list = field(default_factory=list)  # its score (higher is better)
    modes: list = field(default_factory=list)  # the mode after each round's fit

    @property
    def chosen(self) -> np.ndarray:
        return self.modes[-1]


def intervene(score: Callable[[np.ndarray], float], num_factors: int, rounds: int, rng: np.random.Generator, *,
              temperature: float = 10.0, alpha: float = 1.0) -> InterventionResult:
    """Rounds of: G ~ p(G) ∝ exp⟨w/T, G⟩, s = score(G), refit w on all (G, s); w starts at 0 (uniform)."""
    result, w = InterventionResult(), np.zeros(num_factors)
    for _ in range(rounds):
        graph = sample_graph(w, rng, temperature)
        result.graphs.append(graph)
        result.scores.append(float(score(graph)))
        w = fit_graph_weights(np.array(result.graphs), np.array(result.scores), alpha)
        result.modes.append(mode_graph(w))
    return result


def policy_execution_intervention(episode_return: Callable[[np.ndarray], float], num_factors: int, episodes: int,
                                  rng: np.random.Generator, **kwargs) -> InterventionResult:
    """Alg. 2: one episode of π_G per round, its return the score."""
    return intervene(episode_return, num_factors, episodes, rng, **kwargs)


def expert_query_intervention(labelled_loss: Callable[[np.ndarray], float], num_factors: int, rounds: int,
                              rng: np.random.Generator, **kwargs) -> InterventionResult:
    """Alg. 1's graph search: the score is −loss of π_G on the expert-labelled states (see module docstring)."""
    return intervene(lambda graph: -labelled_loss(graph), num_factors, rounds, rng, **kwargs)


def top_states(scores: np.ndarray, count: int) -> np.ndarray:
    """Indices of the `count` highest scores (the most disputed states), highest first."""
    return np.argsort(-np.asarray(scores), kind="stable")[:count]
