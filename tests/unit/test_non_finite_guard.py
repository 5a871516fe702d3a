"""The non-finite metric guard: real divergences stop a trial, empty metric windows do not."""
import math

from behaviorlab.platform.callbacks import non_finite_metric

NAN, INF = math.nan, math.inf


def result(loss, trained, episode_return=-120.0):
    learner = {"total_loss": loss}
    if trained is not None:
        learner["num_module_steps_trained"] = trained
    return {"learners": {"default_policy": learner}, "env_runners": {"episode_return_mean": episode_return}}


def test_nan_loss_of_a_module_that_trained_is_a_failure():
    assert non_finite_metric(result(NAN, trained=500)) == "learners/default_policy/total_loss"


def test_nan_loss_without_an_update_this_iteration_is_an_empty_window():
    assert non_finite_metric(result(NAN, trained=0)) is None
    assert non_finite_metric(result(NAN, trained=None)) is None  # the count itself not reported
    assert non_finite_metric(result(NAN, trained=NAN)) is None


def test_inf_loss_is_a_failure_even_without_an_update():
    assert non_finite_metric(result(INF, trained=0)) == "learners/default_policy/total_loss"


def test_returns_nan_before_the_first_episode_inf_always():
    assert non_finite_metric(result(1.0, trained=500, episode_return=NAN)) is None
    assert non_finite_metric(result(1.0, trained=500, episode_return=INF)) == "env_runners/episode_return_mean"
    assert non_finite_metric(result(1.0, trained=500)) is None
