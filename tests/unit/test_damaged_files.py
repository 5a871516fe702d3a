"""Damaged and hostile files through the CLI: a clear line naming the file, a non-zero exit where
nothing usable is left, and nothing run or written that the file asked for (issue 23)."""

import builtins
import json
import os
import pickle

import pytest
import torch

from behaviorlab.envs.datasets import TrajectoryWriter
from behaviorlab.platform.cli import main
from tests.unit.test_datasets import LENGTHS, write_episodes
from tests.unit.test_report import _trial
from tests.unit.test_vpt import record, write_recording


def _one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


# --- report / compare on damaged result.json ---------------------------------------------------


def test_report_warns_about_damaged_lines_and_reports_the_rest(tmp_path, capsys, caplog):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [1, 2, 3, 4])
    _trial(exp, "trial_1", 1, [5, 6])
    result = exp / "trial_0" / "result.json"
    lines = result.read_text().splitlines()
    # garbage bytes, a JSON value that is not a result, and a row cut in the middle
    result.write_bytes("\n".join(lines[:2]).encode() + b"\n\xff\xfe garbage\n[1, 2]\n" + lines[2].encode()[:25])
    assert main(["report", str(exp)]) == 0
    assert (exp / "report" / "curves.png").is_file() and (exp / "report" / "trials.csv").is_file()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert warnings == [f"{result}: damaged: 3 line(s) skipped (first: line 3); 2 rows read, the report uses those"]
    trials = (exp / "report" / "trials.csv").read_text()
    assert "trial_0,0,2," in trials and "trial_1,1,2," in trials  # 2 iterations each


def test_a_wholly_unreadable_result_file_is_an_error_line(tmp_path, capsys):
    exp = tmp_path / "exp"
    _trial(exp, "trial_0", 0, [1, 2])
    _trial(exp, "trial_1", 1, [3, 4])
    garbage = exp / "trial_1" / "result.json"
    garbage.write_bytes(os.urandom(4000).replace(b"\n", b"") + b"\n" + b"\x00" * 100)
    assert main(["report", str(exp)]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{garbage}: damaged: none of its 2 lines is a result row (0 rows read)" in line
    assert not (exp / "report" / "curves.png").exists()
    assert main(["compare", str(exp), str(exp), "--out", str(tmp_path / "cmp")]) == 2
    assert f"{garbage}: damaged" in _one_error_line(capsys.readouterr().err)


def test_compare_warns_about_a_truncated_result_and_a_damaged_params_file(tmp_path, capsys, caplog):
    a, b = tmp_path / "a", tmp_path / "b"
    _trial(a, "t0", 0, [1, 2, 3])
    _trial(b, "t0", 0, [4, 5, 6])
    truncated = b / "t0" / "result.json"
    truncated.write_bytes(truncated.read_bytes()[:-40])
    (a / "t0" / "params.json").write_text('{"seed": 0, "lr"')
    assert main(["compare", str(a), str(b), "--out", str(tmp_path / "cmp")]) == 0
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(w.startswith(f"{truncated}: damaged: 1 line(s) skipped (first: line 3); 2 rows read") for w in warnings)
    assert any(w.startswith(f"{a / 't0' / 'params.json'}: damaged (") for w in warnings)
    assert "| b |" in (tmp_path / "cmp" / "compare.md").read_text()


# --- PTGM model files: weights only --------------------------------------------------------------


class _CreatesFile:
    """Unpickling this calls `function(*args)`: what a crafted model file would do."""

    def __init__(self, function, *args):
        self.function, self.args = function, args

    def __reduce__(self):
        return self.function, self.args


def _spec_loading(tmp_path, model):
    spec = tmp_path / "ptgm.yaml"
    spec.write_text("algorithm: PTGM\nenv: behaviorlab.algorithms.ptgm.env:make_goal_code_env\n"
                    f"env_config: {{env_id: BabyAI-GoToLocal-v0, low_level: {model}, codebook: {tmp_path / 'c.npz'}}}\n"
                    f"config: {{goal_prior_path: {model}}}\nstop: {{iterations: 1}}\n")
    return spec


@pytest.mark.parametrize("payload", ["os.system", "open", "legacy pickle"])
def test_a_crafted_model_file_runs_nothing_in_validate(tmp_path, capsys, payload):
    marker = tmp_path / "created_by_the_model_file"
    model = tmp_path / "low_level.pt"
    if payload == "os.system":
        torch.save({"class": "GoalPrior", "kwargs": _CreatesFile(os.system, f"touch {marker}")}, model)
    elif payload == "open":
        torch.save({"class": "GoalPrior", "kwargs": _CreatesFile(builtins.open, str(marker), "w")}, model)
    else:  # torch.load also reads plain pickles
        model.write_bytes(pickle.dumps(_CreatesFile(os.system, f"touch {marker}")))
    assert main(["validate", str(_spec_loading(tmp_path, model))]) == 2
    line = _one_error_line(capsys.readouterr().err)
    assert f"{model}: not loaded: not a PTGM model file (" in line and "weights_only=False" not in line
    if payload != "legacy pickle":  # that one is refused at its first opcode (a protocol torch does not read)
        assert "unsupported global" in line.lower()
    assert not marker.exists()


def test_models_are_saved_as_plain_data_and_load_weights_only(tmp_path):
    from behaviorlab.algorithms.ptgm.models import GoalConditionedPolicy, load_model, save_model

    save_model(tmp_path / "m.pt", GoalConditionedPolicy(4, 3, 2, hidden=(8,)), {"k_min": 1, "dataset": "d"})
    saved = torch.load(tmp_path / "m.pt", weights_only=True)
    assert saved["kwargs"] == {"obs_dim": 4, "goal_dim": 3, "num_actions": 2, "hidden": [8]}
    model, extra = load_model(tmp_path / "m.pt")
    assert model.kwargs["hidden"] == (8,) and extra == {"k_min": 1, "dataset": "d"}
    truncated = tmp_path / "cut.pt"
    truncated.write_bytes((tmp_path / "m.pt").read_bytes()[:300])
    with pytest.raises(ValueError, match=r"cut.pt: not loaded: not a PTGM model file \(PytorchStreamReader"):
        load_model(truncated)
    saved["kwargs"]["hidden"] = [10**12]  # sizes that would not fit in memory: refused, not allocated
    torch.save(saved, tmp_path / "huge.pt")
    with pytest.raises(ValueError, match=r"huge.pt: damaged PTGM model file \(RuntimeError: .*size mismatch"):
        load_model(tmp_path / "huge.pt")
    torch.save(torch.zeros(2), tmp_path / "tensor.pt")
    with pytest.raises(ValueError, match=r"tensor.pt: not a PTGM model file \(it holds no 'class'"):
        load_model(tmp_path / "tensor.pt")


# --- data info / convert-vpt ---------------------------------------------------------------------


def _truncate_shard(path):
    shard = path / "shards" / "shard-000002.parquet"
    shard.write_bytes(shard.read_bytes()[:200])
    return shard, "unreadable (Parquet magic bytes not found"


def _drop_episodes(path):
    (path / "episodes.parquet").unlink()
    return path / "episodes.parquet", "missing"


def _claim(key, more):
    def damage(path):
        metadata = json.loads((path / "metadata.json").read_text())
        metadata[key] += more
        (path / "metadata.json").write_text(json.dumps(metadata))
        return path / "episodes.parquet", {"num_episodes": "has 5 episodes, metadata.json lists 8",
                                           "num_steps": "its episodes hold 33 steps, metadata.json lists 35"}[key]
    return damage


def _drop_last_shard(path):
    (path / "shards" / "shard-000006.parquet").unlink()
    return path / "shards" / "shard-000006.parquet", "missing"


@pytest.mark.parametrize("damage", [_truncate_shard, _drop_episodes, _claim("num_episodes", 3),
                                    _claim("num_steps", 2), _drop_last_shard],
                         ids=["truncated shard", "no episodes.parquet", "more episodes claimed",
                              "more steps claimed", "missing shard"])
def test_data_info_says_damaged(tmp_path, capsys, damage):
    path = tmp_path / "data"
    with TrajectoryWriter(path, shard_steps=5) as writer:
        write_episodes(writer, LENGTHS)
    damaged_file, problem = damage(path)
    assert main(["data", "info", str(path)]) == 2
    captured = capsys.readouterr()
    assert "status:       DAMAGED" in captured.out and "complete" not in captured.out
    assert f"error: {damaged_file}: {problem}" in _one_error_line(captured.err)
    assert "the dataset is damaged" in captured.err


def _index(tmp_path, records, num_frames=None, jsonl_text=None):
    base = tmp_path / "recordings"
    write_recording(base, "seg", records, num_frames=num_frames)
    if jsonl_text is not None:
        (base / "seg.jsonl").write_text(jsonl_text)
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"basedir": "recordings", "relpaths": ["seg"]}))
    return index


def test_convert_vpt_names_video_frames_without_actions(tmp_path, capsys):
    index = _index(tmp_path, [record(keys=["key.keyboard.w"])] * 4, num_frames=9)
    assert main(["data", "convert-vpt", str(index), str(tmp_path / "out"), "--size", "16"]) == 0
    out = capsys.readouterr().out
    assert "the video has 5 frames after the 4 lines of seg.jsonl: frames without an action, dropped" in out
    assert "1 episodes, 4 steps" in out


@pytest.mark.parametrize("line, problem", [
    ('{"mouse": {"dx": 1', "seg.jsonl:2: not valid JSON"),
    (json.dumps({**record(), "keyboard": {"keys": None}}), "seg.jsonl:2: keyboard.keys None is not a list of key names"),
    (json.dumps({**record(), "mouse": {**record()["mouse"], "dx": "NaN"}}), "seg.jsonl:2: mouse.dx 'NaN' is not a finite"),
    (json.dumps({**record(), "mouse": [1]}), "seg.jsonl:2: mouse or keyboard is not a JSON object"),
], ids=["torn JSON", "keys not a list", "dx not a number", "mouse not an object"])
def test_convert_vpt_malformed_lines_are_one_line_and_write_nothing(tmp_path, capsys, line, problem):
    first = json.dumps(record(keys=["key.keyboard.w"]))
    index = _index(tmp_path, [record()] * 3, jsonl_text=f"{first}\n{line}\n{first}\n")
    out = tmp_path / "out"
    assert main(["data", "convert-vpt", str(index), str(out), "--size", "16"]) == 2
    assert problem in _one_error_line(capsys.readouterr().err)
    assert not out.exists()
