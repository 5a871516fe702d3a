"""Experiment directories on a local path or a filesystem URI: never overwritten, resumable."""

import json

import pytest

from behaviorlab.platform.runner import ResultsLocation, RunError, experiment_name


@pytest.mark.parametrize("as_uri", [False, True])
def test_each_run_gets_a_new_directory_and_resume_picks_the_newest(tmp_path, as_uri):
    root = tmp_path / "results"
    location = ResultsLocation.parse(f"file://{root}" if as_uri else root)
    assert experiment_name(location, "exp", resume=False) == "exp"
    with pytest.raises(RunError, match="nothing to resume"):
        experiment_name(location, "exp", resume=True)
    location.write_text("exp/behaviorlab/run.json", "{}")
    assert experiment_name(location, "exp", resume=False) == "exp-2"
    (root / "exp-2").mkdir()
    (root / "exp-10").mkdir()
    (root / "exp-old").mkdir()      # not a run number: ignored
    (root / "expert").mkdir()       # another experiment's prefix: ignored
    assert experiment_name(location, "exp", resume=False) == "exp-11"
    assert experiment_name(location, "exp", resume=True) == "exp-10"
    assert json.loads((root / "exp" / "behaviorlab" / "run.json").read_text()) == {}


def test_uri_location_keeps_the_scheme_for_tune_and_is_local_for_reports(tmp_path):
    location = ResultsLocation.parse(f"file://{tmp_path}/")
    assert location.uri == f"file://{tmp_path}" and location.path == str(tmp_path)
    assert location.child("exp") == f"file://{tmp_path}/exp"
    assert not location.is_remote


def test_unknown_scheme_is_a_clear_error():
    with pytest.raises(RunError, match="--results-dir nosuch://bucket"):
        ResultsLocation.parse("nosuch://bucket/x")


def _claim(root: str, name: str, queue) -> None:
    from behaviorlab.platform.runner import ResultsLocation, reserve_experiment

    queue.put(reserve_experiment(ResultsLocation.parse(root), name))


def test_runs_reserving_at_once_never_share_a_directory(tmp_path):
    """Each process picks its name before it creates the directory; the create decides."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_claim, args=(str(tmp_path), "exp", queue)) for _ in range(6)]
    for process in processes:
        process.start()
    for process in processes:
        process.join(30)
    names = sorted(queue.get(timeout=5) for _ in processes)
    assert len(set(names)) == 6 and set(names) == {p.name for p in tmp_path.iterdir()}


def test_object_store_reservation_keeps_a_name_that_another_claimant_holds(tmp_path):
    """Object stores (s3://, gs://) have no atomic mkdir: a marker decides, and a name someone
    else has written to is never taken."""
    import pyarrow.fs

    from behaviorlab.platform.runner import reserve_experiment

    location = ResultsLocation("mock://results", pyarrow.fs._MockFileSystem(), "results")
    assert location.is_remote
    assert reserve_experiment(location, "exp") == "exp"
    assert reserve_experiment(location, "exp") == "exp-2"
    location.write_text("exp-3/behaviorlab/reserved-other", "")  # another driver's claim, listed first
    assert not location.reserve("exp-3")
    assert reserve_experiment(location, "exp") == "exp-4"


def test_results_dir_that_is_a_file_is_refused(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    for target in (blocker, blocker / "below"):
        with pytest.raises(RunError, match="is a file, not a directory"):
            ResultsLocation.parse(target)
