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
