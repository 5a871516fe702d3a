"""Matrix estimation for SV-RL: observed entries kept, low-rank matrices recovered, full-rank not."""

import pytest
import torch

from behaviorlab.algorithms.common.matrix_estimation import approximate_rank, complete, soft_impute, usvt


@pytest.fixture(autouse=True)
def one_torch_thread():
    """Small SVDs are ~40× slower with 2 threads on a busy machine (Ray workers run with 1)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _mask(shape, keep, seed):
    return torch.rand(shape, generator=torch.Generator().manual_seed(seed)) < keep


def _low_rank(seed, rows=32, cols=18, rank=2):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(rows, rank, generator=g) @ torch.randn(rank, cols, generator=g)


def _hidden_error(method, matrix, observed):
    hidden = ~observed
    return float((method(matrix, observed)[hidden] - matrix[hidden]).norm() / matrix[hidden].norm())


@pytest.mark.parametrize("method", [soft_impute, usvt])
def test_observed_entries_come_back_unchanged_and_no_gradient_flows(method):
    matrix = torch.randn(32, 18, requires_grad=True)
    observed = _mask(matrix.shape, 0.9, 0)
    filled = method(matrix, observed)
    assert torch.equal(filled[observed], matrix.detach()[observed])
    assert not filled.requires_grad
    assert torch.isfinite(filled).all()


def test_rank_two_matrix_with_a_tenth_hidden_is_recovered_to_a_few_percent():
    errors = [_hidden_error(soft_impute, _low_rank(seed), _mask((32, 18), 0.9, 100 + seed)) for seed in range(20)]
    assert sum(errors) / len(errors) < 0.1, errors


def test_full_rank_matrix_is_not_recovered():
    # The method's limit: hidden entries of an unstructured matrix are guessed with an error as
    # large as the entries themselves (what SV-RL then puts into the targets).
    g = torch.Generator().manual_seed(0)
    errors = [_hidden_error(soft_impute, torch.randn(32, 18, generator=g), _mask((32, 18), 0.9, seed))
              for seed in range(20)]
    assert sum(errors) / len(errors) > 0.8, errors


def test_completion_undoes_the_scaling_to_unit_range():
    # Q values far from [−1, 1]: the estimate is made on the scaled matrix and mapped back.
    matrix = 100.0 * _low_rank(0) - 500.0
    observed = _mask(matrix.shape, 0.9, 1)
    assert _hidden_error(soft_impute, matrix, observed) < 0.02  # relative to entries ≈ −500


def test_edge_cases_nothing_hidden_and_a_constant_matrix():
    matrix = torch.randn(4, 3)
    assert torch.equal(soft_impute(matrix, torch.ones(4, 3, dtype=torch.bool)), matrix)
    constant = torch.full((4, 3), 2.5)
    observed = _mask((4, 3), 0.7, 0)
    assert torch.allclose(soft_impute(constant, observed), constant)


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="bool mask of the same shape"):
        soft_impute(torch.zeros(3, 3), torch.ones(3, 3))
    with pytest.raises(ValueError, match="unknown matrix estimation method 'svd'; choose one of soft_impute, usvt"):
        complete(torch.zeros(3, 3), torch.ones(3, 3, dtype=torch.bool), "svd")


def test_approximate_rank_counts_the_singular_values_holding_99_percent_of_the_energy():
    assert approximate_rank(torch.tensor([10.0, 2.0, 0.01])) == 2
    assert approximate_rank(torch.tensor([10.0, 0.5, 0.01])) == 1
    assert approximate_rank(torch.zeros(3)) == 0
    assert approximate_rank(torch.linalg.svdvals(_low_rank(0))) <= 2
