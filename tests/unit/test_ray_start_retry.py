"""A local Ray that misses its fixed 30 s start-up window on a busy machine is started again."""
import pytest

from behaviorlab.platform import runner


class FlakyRay:
    """Stands in for the `ray` module: `init` fails `failures` times, then succeeds."""

    def __init__(self, failures: int):
        self.failures, self.inits, self.shutdowns = failures, 0, 0

    def init(self, **kwargs):
        self.inits += 1
        if self.inits <= self.failures:
            raise Exception("The current node timed out during startup. This could happen because ...")

    def shutdown(self):
        self.shutdowns += 1


def test_start_is_retried_after_a_startup_timeout(capsys):
    ray = FlakyRay(failures=runner.LOCAL_RAY_START_ATTEMPTS - 1)
    runner._start_local_ray(ray, verbose=False, include_dashboard=True)
    assert ray.inits == runner.LOCAL_RAY_START_ATTEMPTS
    assert ray.shutdowns == runner.LOCAL_RAY_START_ATTEMPTS - 1  # each failed node is cleaned up
    assert "retrying (2/3)" in capsys.readouterr().err


def test_start_gives_up_with_one_clear_error():
    ray = FlakyRay(failures=runner.LOCAL_RAY_START_ATTEMPTS)
    with pytest.raises(runner.RunError, match=r"after 3 tries: The current node timed out during startup"):
        runner._start_local_ray(ray, verbose=False)
    assert ray.inits == runner.LOCAL_RAY_START_ATTEMPTS


def test_verbose_start_reraises_ray_s_own_error():
    with pytest.raises(Exception, match="timed out during startup"):
        runner._start_local_ray(FlakyRay(failures=99), verbose=True)
