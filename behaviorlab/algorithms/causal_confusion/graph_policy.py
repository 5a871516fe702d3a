"""The graph-parameterised policy π_G(X) = f_φ([X ⊙ G, G]) (de Haan et al. 2019, §6.1), pure torch.

G ∈ {0,1}^k holds one bit per state factor; a factor may span several input dimensions
(`factor_sizes`, e.g. [1, 1, 3] for MountainCar's position, velocity and previous-action one-hot).
One network serves all 2^k graphs: training draws G uniformly per example, and the mask is an
input too, so the network knows which factors were hidden (a zero could be a real value)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def expand_graph(graph: torch.Tensor, factor_sizes: Sequence[int]) -> torch.Tensor:
    """Per-factor bits [..., k] → per-dimension mask [..., sum(factor_sizes)]."""
    if graph.shape[-1] != len(factor_sizes):
        raise ValueError(f"graph has {graph.shape[-1]} bits, factor_sizes {list(factor_sizes)} has {len(factor_sizes)}")
    return torch.repeat_interleave(graph, torch.as_tensor(factor_sizes, device=graph.device), dim=-1)


def graph_input(x: torch.Tensor, graph: torch.Tensor, factor_sizes: Sequence[int]) -> torch.Tensor:
    """[X ⊙ G, G]: the masked observation followed by the mask bits (graph broadcasts over x's batch)."""
    graph = graph.to(x.dtype).expand(*x.shape[:-1], len(factor_sizes))
    return torch.cat([x * expand_graph(graph, factor_sizes), graph], dim=-1)


def sample_graphs(batch: int, num_factors: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """G uniform over {0,1}^k for each of `batch` examples (each bit a fair coin)."""
    return torch.randint(0, 2, (batch, num_factors), generator=generator).float()


def all_graphs(num_factors: int) -> torch.Tensor:
    """The 2^k graphs [2^k, k], in binary counting order with the first factor as the highest bit."""
    return torch.tensor(list(itertools.product((0.0, 1.0), repeat=num_factors)))


class GraphPolicy(nn.Module):
    """f_φ: an MLP from [X ⊙ G, G] to action logits."""

    def __init__(self, factor_sizes: Sequence[int], num_actions: int, hidden: Sequence[int] = (50, 50)):
        super().__init__()
        self.factor_sizes = tuple(int(size) for size in factor_sizes)
        sizes = [sum(self.factor_sizes) + len(self.factor_sizes), *hidden]
        layers: list[nn.Module] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            layers += [nn.Linear(n_in, n_out), nn.ReLU()]
        self.net = nn.Sequential(*layers, nn.Linear(sizes[-1], num_actions))

    @property
    def num_factors(self) -> int:
        return len(self.factor_sizes)

    def forward(self, x: torch.Tensor, graph: torch.Tensor) -> torch.Tensor:
        return self.net(graph_input(x, graph, self.factor_sizes))


def graph_weights(bit_probabilities: torch.Tensor, graphs: torch.Tensor) -> torch.Tensor:
    """p(G) = Π_j p_j^G_j (1 − p_j)^(1−G_j) of each graph [n, k] under independent bits P(G_j = 1) = p_j [k]."""
    return (graphs * bit_probabilities + (1 - graphs) * (1 - bit_probabilities)).prod(-1)


def mixture_log_probs(policy: "GraphPolicy", x: torch.Tensor, bit_probabilities: torch.Tensor) -> torch.Tensor:
    """log Σ_G p(G) π_G(·|X) [N, A]: with 0/1 bits the log-probabilities of that one graph's π_G, with
    all bits 0.5 the uniform mixture π_mix of Alg. 1. Graphs of zero weight are not evaluated."""
    graphs = all_graphs(policy.num_factors).to(x)
    weights = graph_weights(bit_probabilities.to(x), graphs)
    graphs, weights = graphs[weights > 0], weights[weights > 0]
    log_p = F.log_softmax(policy(x.expand(len(graphs), *x.shape), graphs[:, None, :]), dim=-1)
    return torch.logsumexp(log_p + weights.log()[:, None, None], dim=0)


def graph_cloning_loss(policy: GraphPolicy, x: torch.Tensor, actions: torch.Tensor,
                       generator: torch.Generator | None = None) -> torch.Tensor:
    """E_{(X,A)} E_{G~U} cross-entropy(f([X⊙G, G]), A), one G per example."""
    from behaviorlab.algorithms.common.bc import behaviour_cloning_loss

    return behaviour_cloning_loss(policy(x, sample_graphs(len(x), policy.num_factors, generator)), actions)


def graph_losses(policy: GraphPolicy, x: torch.Tensor, actions: torch.Tensor, graphs: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the labelled set (x, actions) under each graph: [len(graphs)]."""
    return torch.stack([F.cross_entropy(policy(x, graph), actions) for graph in graphs])


def disagreement(logits: torch.Tensor) -> torch.Tensor:
    """D(X) = E_G KL(π_G(X) ‖ π_mix(X)) per state, π_mix the mean of the graphs' distributions.
    logits [num_graphs, N, A] → [N]. Zero where all graphs agree; large where the hypotheses differ."""
    log_p = F.log_softmax(logits, dim=-1)
    log_mix = torch.logsumexp(log_p, dim=0) - torch.log(torch.tensor(float(len(logits))))
    return (log_p.exp() * (log_p - log_mix)).sum(-1).mean(0)
