"""VPT conversion (jsonl → actions, mp4 → frames, alignment, resume), the MineRL mappings and the VPT
model loader, on small recordings generated here: frame i of every video is a flat grey of level
20 + 5i, so a stored frame tells which video frame it came from."""

import json
import pickle
import subprocess
import sys
import types

import av
import numpy as np
import pytest
import torch

from behaviorlab.envs.datasets import DatasetError, TrajectoryReader, dataset_info
from behaviorlab.envs.datasets.vpt import convert_vpt, jsonl_to_actions, load_index
from behaviorlab.platform.cli import main

BUTTON_NAMES = ["ESC", "attack", "back", "drop", "forward", *(f"hotbar.{n}" for n in range(1, 10)), "inventory", "jump",
                "left", "pickItem", "right", "sneak", "sprint", "swapHands", "use"]


def record(keys=(), buttons=(), new_buttons=(), dx=0, dy=0, hotbar=0, gui=False, x=640.0, y=360.0):
    """One jsonl line as the VPT recorder writes it (the fields the conversion reads, and a few more)."""
    return {"mouse": {"x": x, "y": y, "dx": dx, "dy": dy, "scaledX": x - 640, "scaledY": y - 360, "dwheel": 0,
                      "buttons": list(buttons), "newButtons": list(new_buttons)},
            "keyboard": {"keys": list(keys), "newKeys": [], "chars": ""},
            "isGuiOpen": gui, "isGuiInventory": gui, "hotbar": hotbar, "yaw": 0.0, "pitch": 0.0,
            "xpos": 0.0, "ypos": 64.0, "zpos": 0.0, "tick": 0, "milli": 0, "inventory": [], "stats": {}}


def expected(*pressed, camera=(0.0, 0.0)):
    action = {name: int(name in pressed) for name in BUTTON_NAMES}
    action["camera"] = list(camera)
    return action


def as_plain(action):
    """An action dict (numpy values, or one row of a batch) as plain Python for comparisons."""
    return {key: np.asarray(value).tolist() for key, value in action.items()}


def assert_action(action, want, where=""):
    """Buttons equal, camera equal up to float32 rounding."""
    got, want = as_plain(action), dict(want)
    np.testing.assert_allclose(got.pop("camera"), want.pop("camera"), rtol=1e-6, err_msg=where)
    assert got == want, where


def write_video(path, num_frames, width=64, height=36, level=lambda i: 20 + 5 * i):
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=20, options={"crf": "0"})  # lossless: levels survive
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(num_frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), level(i), np.uint8), format="rgb24")
            container.mux(stream.encode(frame))
        container.mux(stream.encode())


def write_recording(directory, relpath, records, num_frames=None, **video):
    (directory / relpath).parent.mkdir(parents=True, exist_ok=True)
    write_video(directory / f"{relpath}.mp4", len(records) if num_frames is None else num_frames, **video)
    (directory / f"{relpath}.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")


# Segment "a": the conversion rules line by line. (record, action expected or None for null)
SEGMENT_A = [
    (record(buttons=[0], new_buttons=[0]), None),  # attack down from the first frame: stuck, cleared
    (record(keys=["key.keyboard.w"], buttons=[0]), expected("forward")),  # still stuck
    (record(), None),
    (record(buttons=[]), None),  # released: no longer stuck
    (record(buttons=[0], new_buttons=[0]), expected("attack")),
    (record(dx=16, dy=-8), expected(camera=(-1.2, 2.4))),  # [dy, dx] × 360/2400
    (record(hotbar=2), expected("hotbar.3")),  # scroll-wheel selection: only the hotbar field changes
    (record(hotbar=2), None),
    (record(keys=["key.keyboard.escape"], hotbar=2), expected("ESC")),
    (record(dx=4, dy=4, hotbar=2, gui=True), expected(camera=(0.6, 0.6))),  # GUI open: camera kept (moves the cursor)
] + [(record(keys=["key.keyboard.space"], hotbar=2), expected("jump")) if i % 2 == 0 else (record(hotbar=2), None)
     for i in range(10, 20)]


@pytest.fixture
def recordings(tmp_path):
    """An index of four segments: "a" (the rules above), "b" (five null lines, then moves),
    "c" (12 lines but a 10-frame video), "d" (only null actions)."""
    base = tmp_path / "recordings"
    write_recording(base, "a", [r for r, _ in SEGMENT_A])
    write_recording(base, "sub/b", [record()] * 5 + [record(keys=["key.keyboard.d"])] * 20)
    write_recording(base, "c", [record(keys=["key.keyboard.s"])] * 12, num_frames=10)
    write_recording(base, "d", [record()] * 6)
    index = tmp_path / "index.json"
    index.write_text(json.dumps({"basedir": "recordings", "relpaths": ["a.mp4", "sub/b", "c", "d"]}))
    return index


def episodes_by_source(path):
    reader = TrajectoryReader(path)
    return {record.source: steps for record, steps in reader.iter_episodes()}


def frame_numbers(steps):
    """Which video frame each stored frame shows, from its grey level."""
    return np.round((steps.obs["pov"].reshape(len(steps), -1).mean(axis=1) - 20) / 5).astype(int).tolist()


# --- jsonl → actions ------------------------------------------------------------------------


@pytest.mark.parametrize("key, button", [
    ("w", "forward"), ("s", "back"), ("a", "left"), ("d", "right"), ("space", "jump"), ("left.shift", "sneak"),
    ("left.control", "sprint"), ("e", "inventory"), ("q", "drop"), ("f", "swapHands"), ("escape", "ESC"),
    *((str(n), f"hotbar.{n}") for n in range(1, 10)),
])
def test_each_key_maps_to_its_button(key, button):
    [action] = jsonl_to_actions([record(keys=[f"key.keyboard.{key}", "key.keyboard.z"])])  # z is not mapped
    assert as_plain(action) == expected(button)


def test_mouse_buttons_and_camera_degrees():
    actions = jsonl_to_actions([record(buttons=[1, 2]), record(buttons=[0], dx=-100, dy=30), record(dx=3000, dy=-1)])
    assert as_plain(actions[0]) == expected("use", "pickItem")
    # [dy, dx] × 0.15°: camera[0] is pitch (down positive), camera[1] yaw (right positive)
    assert_action(actions[1], expected("attack", camera=(4.5, -15.0)))
    assert_action(actions[2], expected(camera=(-0.15, 180.0)))  # 450° clipped to MineRL's ±180°
    assert actions[1]["camera"].dtype == np.float32


def test_null_actions_and_the_rules_line_by_line():
    actions = jsonl_to_actions([r for r, _ in SEGMENT_A])
    for line, (action, (_, want)) in enumerate(zip(actions, SEGMENT_A)):
        assert (action is None) == (want is None), f"line {line}"
        if want is not None:
            assert_action(action, want, f"line {line}")
    assert jsonl_to_actions([record(keys=["key.keyboard.z"], dx=0, dy=0)]) == [None]  # unmapped key only: null


def test_stuck_attack_ends_with_a_new_press_even_without_release():
    actions = jsonl_to_actions([record(buttons=[0], new_buttons=[0], keys=["key.keyboard.w"]),
                                record(buttons=[0], keys=["key.keyboard.w"]),
                                record(buttons=[0], new_buttons=[0])])
    assert [as_plain(a) for a in actions] == [expected("forward"), expected("forward"), expected("attack")]
    # held but not newly pressed on the first line: a real press, kept
    assert as_plain(jsonl_to_actions([record(buttons=[0])])[0]) == expected("attack")


def test_hotbar_changes_count_from_slot_zero():
    actions = jsonl_to_actions([record(hotbar=4), record(hotbar=4), record(hotbar=0, keys=["key.keyboard.w"])])
    assert as_plain(actions[0]) == expected("hotbar.5") and actions[1] is None
    assert as_plain(actions[2]) == expected("hotbar.1", "forward")


def test_malformed_lines_name_file_and_line(tmp_path):
    broken = record()
    del broken["mouse"]["newButtons"]
    with pytest.raises(DatasetError, match=r"x.jsonl:2: no usable 'newButtons'"):
        jsonl_to_actions([record(), broken], "x.jsonl")
    with pytest.raises(DatasetError, match=r"x.jsonl:1: hotbar slot 9 is not 0–8"):
        jsonl_to_actions([record(hotbar=9)], "x.jsonl")


# --- conversion ----------------------------------------------------------------------------


def test_conversion_keeps_frames_and_actions_aligned(recordings, tmp_path, capsys):
    summary = convert_vpt(recordings, tmp_path / "out")
    assert (summary.segments_converted, summary.segments_empty, summary.num_episodes) == (3, 1, 3)
    assert summary.frames_decoded == 20 + 25 + 10 + 6
    episodes = episodes_by_source(tmp_path / "out")
    assert sorted(episodes) == ["a", "c", "sub/b"]  # "d" had only null actions

    a = episodes["a"]
    kept = [line for line, (_, want) in enumerate(SEGMENT_A) if want is not None]
    assert a.info["frame_index"].tolist() == kept == frame_numbers(a)
    assert a.obs["pov"].shape == (len(kept), 128, 128, 3) and a.obs["pov"].dtype == np.uint8
    for row, line in enumerate(kept):
        assert_action({key: values[row] for key, values in a.action.items()}, SEGMENT_A[line][1], f"line {line}")
    assert a.info["gui_open"].tolist() == [line == 9 for line in kept]
    assert a.info["hotbar"].tolist() == [SEGMENT_A[line][0]["hotbar"] for line in kept]
    assert a.truncated.tolist() == [False] * (len(kept) - 1) + [True] and not a.terminated.any()

    b = episodes["sub/b"]
    assert b.info["frame_index"].tolist() == list(range(5, 25)) == frame_numbers(b)
    assert b.action["right"].tolist() == [1] * 20
    c = episodes["c"]
    assert c.info["frame_index"].tolist() == list(range(10)) == frame_numbers(c)  # lines 10, 11 have no frame

    out = capsys.readouterr().out
    assert "converting 4 of 4 segments" in out and "frames/s" in out
    assert "2 of 12 actions have no video frame and were dropped" in out
    assert "done:" in out and "3 episodes, 41 steps" in out


def test_gui_frames_get_a_cursor_at_the_mouse_position(tmp_path):
    base = tmp_path / "recordings"
    lines = [record(keys=["key.keyboard.w"]), record(keys=["key.keyboard.e"], gui=True, x=640, y=360)]
    write_recording(base, "gui", lines, width=320, height=180, level=lambda i: 100)
    (tmp_path / "index.json").write_text(json.dumps({"basedir": str(base), "relpaths": ["gui"]}))
    for cursor in (True, False):
        out = tmp_path / f"out-{cursor}"
        convert_vpt(tmp_path / "index.json", out, size=(180, 320), cursor=cursor, progress=False)
        pov = TrajectoryReader(out).episode(0).obs["pov"]
        # (640, 360) in 720p GUI pixels is (160, 90) here; the pointer's tip is there, its body below-right
        tip_region = pov[1, 90:100, 160:166]
        assert (tip_region == 255).all(axis=-1).any() == cursor
        assert pov[0].max() < 110 and pov[1, :85].max() < 110 and pov[1, :, :155].max() < 110  # nothing elsewhere


def test_an_interrupted_conversion_resumes_and_skips_what_is_done(recordings, tmp_path, capsys):
    b_jsonl = recordings.parent / "recordings" / "sub" / "b.jsonl"
    good = b_jsonl.read_text()
    b_jsonl.write_text(good.replace("}\n", "}\n{oops\n", 1))
    with pytest.raises(DatasetError, match=r"b.jsonl:2: not valid JSON.*re-run to resume \(1 converted segments are kept\)"):
        convert_vpt(recordings, tmp_path / "out", size=(16, 16))
    assert not dataset_info(tmp_path / "out").complete and dataset_info(tmp_path / "out").num_episodes == 1

    b_jsonl.write_text(good)
    capsys.readouterr()
    summary = convert_vpt(recordings, tmp_path / "out", size=(16, 16))
    assert "converting 3 of 4 segments" in capsys.readouterr().out
    assert (summary.segments_converted, summary.segments_skipped, summary.num_episodes) == (2, 1, 3)
    episodes = episodes_by_source(tmp_path / "out")
    assert episodes["sub/b"].info["frame_index"].tolist() == list(range(5, 25))
    assert len(set(TrajectoryReader(tmp_path / "out").episodes)) == 3

    again = convert_vpt(recordings, tmp_path / "out", size=(16, 16))
    assert (again.segments_converted, again.segments_skipped, again.num_episodes) == (0, 3, 3)
    with pytest.raises(DatasetError, match=r"was written with frame_size=\[16, 16\], this write uses \[32, 32\]"):
        convert_vpt(recordings, tmp_path / "out", size=(32, 32))


def test_a_conversion_failing_on_its_first_segment_leaves_nothing(recordings, tmp_path):
    (recordings.parent / "recordings" / "a.mp4").write_bytes(b"not a video")
    with pytest.raises(DatasetError, match=r"a.mp4: cannot decode it .*; re-download it or drop it from the index$"):
        convert_vpt(recordings, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_index_problems_are_reported_before_anything_is_written(tmp_path, recordings):
    out = tmp_path / "out"
    cases = [
        ("missing.json", None, r"missing.json: no such index file"),
        ("bad.json", "{", r"bad.json: not valid JSON"),
        ("url.json", {"basedir": "https://example.org/data/", "relpaths": ["a"]}, r"url.json:basedir: .* is a URL"),
        ("empty.json", {"basedir": ".", "relpaths": []}, r"empty.json:relpaths: must be a non-empty list"),
        ("gap.json", {"basedir": "recordings", "relpaths": ["a", "nope", "c"]},
         r"gap.json:relpaths\[1\]: .*nope.mp4 does not exist \(and 1 more files\); download it or drop"),
        ("twice.json", {"basedir": "recordings", "relpaths": ["a", "a.mp4"]},
         r"twice.json:relpaths\[1\]: 'a' repeats relpaths\[0\]"),
    ]
    for name, content, message in cases:
        if content is not None:
            (tmp_path / name).write_text(content if isinstance(content, str) else json.dumps(content))
        with pytest.raises(DatasetError, match=message):
            convert_vpt(tmp_path / name, out)
        assert not out.exists()
    assert [s.relpath for s in load_index(recordings)] == ["a", "sub/b", "c", "d"]


# --- CLI -------------------------------------------------------------------------------------


def test_cli_convert_then_info(recordings, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["data", "convert-vpt", str(recordings), str(out), "--size", "24x32"]) == 0
    assert "frames/s" in capsys.readouterr().out
    assert main(["data", "info", str(out)]) == 0
    text = capsys.readouterr().out
    for line in ("status:       complete", "episodes:     3", "steps:        41", "observation:  {pov: uint8[24,32,3]}",
                 "camera: float32[2]", "info:         {frame_index: int64, gui_open: bool, hotbar: int64}",
                 f"created by:   behaviorlab data convert-vpt {recordings} {out} --size 24x32"):
        assert line in text


def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    missing = tmp_path / "no-index.json"
    result = subprocess.run([sys.executable, "-m", "behaviorlab.platform.cli", "data", "convert-vpt", str(missing),
                             str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {missing}: no such index file; give the path of a VPT index " \
                                    '{"basedir": DIR, "relpaths": [...]}'
    assert not (tmp_path / "out").exists()

    assert main(["data", "info", str(tmp_path / "nothing")]) == 2
    assert capsys.readouterr().err.count("\n") == 1


# --- MineRL mapping and VPT model files ------------------------------------------------------


def test_minerl_action_and_observation_mapping():
    from behaviorlab.envs.minecraft import action_space, from_minerl_action, to_agent_observation, to_minerl_action

    minerl = to_minerl_action({"forward": np.int64(1), "camera": np.array([200.0, -1.5])})
    assert list(minerl) == list(action_space().spaces)  # every key, in MineRL's order
    assert minerl["forward"] == 1 and minerl["attack"] == 0 and minerl["ESC"] == 0
    assert minerl["camera"].tolist() == [180.0, -1.5]
    assert minerl in action_space()
    back = from_minerl_action(minerl)
    assert as_plain(back) == expected("forward", camera=(180.0, -1.5)) and back["camera"].dtype == np.float32
    with pytest.raises(ValueError, match=r"\['craft'\] are not VPT actions"):
        to_minerl_action({"craft": 1})
    with pytest.raises(ValueError, match="buttons are 0 or 1"):
        to_minerl_action({"jump": 2})

    pov = np.zeros((360, 640, 3), np.uint8)
    pov[:180] = 200
    obs = to_agent_observation({"pov": pov, "inventory": {"dirt": 3}})
    assert list(obs) == ["pov"] and obs["pov"].shape == (128, 128, 3)
    assert obs["pov"][:60].min() == 200 and obs["pov"][70:].max() == 0


def test_minerl_env_without_minerl_says_how_to_install(monkeypatch):
    from behaviorlab.envs.minecraft import MineRLEnv

    monkeypatch.setitem(sys.modules, "minerl", None)  # import fails as if not installed
    with pytest.raises(ImportError, match=r"pip install 'behaviorlab\[minecraft\]' \(building it needs a Java 8 JDK, gradle"):
        MineRLEnv()


def test_minerl_env_speaks_gymnasium_with_vpt_spaces(monkeypatch):
    """MineRLEnv over a stand-in for MineRL's OpenAI-gym env: what the adapter itself does."""
    from behaviorlab.envs.minecraft import MineRLEnv

    class FakeMineRL:
        def __init__(self):
            self.actions, self.seeds, self.t = [], [], 0

        def seed(self, seed):
            self.seeds.append(seed)

        def reset(self):
            self.t = 0
            return {"pov": np.full((360, 640, 3), 7, np.uint8), "inventory": {}}

        def step(self, action):
            self.actions.append(action)
            self.t += 1
            return {"pov": np.full((360, 640, 3), self.t, np.uint8)}, 1.0, self.t == 2, {"TimeLimit.truncated": self.t == 2}

        def close(self):
            pass

    fake = FakeMineRL()
    monkeypatch.setitem(sys.modules, "minerl", types.ModuleType("minerl"))
    monkeypatch.setitem(sys.modules, "gym", types.SimpleNamespace(make=lambda env_id: fake))
    env = MineRLEnv(size=(64, 64))
    obs, info = env.reset(seed=3)
    assert fake.seeds == [3] and obs["pov"].shape == (64, 64, 3) and obs in env.observation_space
    obs, reward, terminated, truncated, _ = env.step({"jump": 1, "camera": np.array([1.0, 2.0], np.float32)})
    assert (reward, terminated, truncated) == (1.0, False, False) and obs["pov"].max() == 1
    assert fake.actions[0]["jump"] == 1 and fake.actions[0]["use"] == 0 and len(fake.actions[0]) == 24
    assert env.step(env.action_space.sample())[2:4] == (False, True)  # gym's time limit → truncated


def write_vpt_model(tmp_path, parameters):
    model = tmp_path / "tiny.model"
    model.write_bytes(pickle.dumps(parameters))
    weights = tmp_path / "tiny.weights"
    torch.save(torch.nn.Linear(3, 2).state_dict(), weights)
    return model, weights


def test_vpt_model_files_load(tmp_path):
    from behaviorlab.envs.minecraft import load_vpt_model

    net_args = {"img_shape": [128, 128, 3], "hidsize": 64, "impala_kwargs": {"post_pool_groups": 1}, "timesteps": 4}
    model, weights = write_vpt_model(tmp_path, {"model": {"args": {"net": {"args": net_args},
                                                                   "pi_head_opts": {"temperature": np.float64(2)}}}})
    loaded = load_vpt_model(model, weights)
    assert loaded.policy_kwargs == net_args and loaded.image_size == (128, 128)
    assert loaded.pi_head_kwargs == {"temperature": 2.0} and type(loaded.pi_head_kwargs["temperature"]) is float
    assert set(loaded.state_dict) == {"weight", "bias"} and loaded.state_dict["weight"].shape == (2, 3)


def test_vpt_model_file_problems_are_one_line(tmp_path):
    from behaviorlab.envs.minecraft import VPTModelError, load_vpt_model

    model, weights = write_vpt_model(tmp_path, {"model": {"args": {"net": {}}}})
    with pytest.raises(VPTModelError, match=r"missing.model: not found; download the model's .model and .weights"):
        load_vpt_model(tmp_path / "missing.model", weights)
    with pytest.raises(VPTModelError, match=r"tiny.model:model.args.net.args: missing; not a VPT .model file"):
        load_vpt_model(model, weights)
    model.write_bytes(pickle.dumps({"model": subprocess.Popen}))  # a pickle that would import code
    with pytest.raises(VPTModelError, match=r"names subprocess.Popen, which a VPT .model file never does"):
        load_vpt_model(model, weights)
    model, _ = write_vpt_model(tmp_path, {"model": {"args": {"net": {"args": {}}, "pi_head_opts": {}}}})
    weights.write_bytes(b"not a checkpoint")
    with pytest.raises(VPTModelError, match=r"tiny.weights: not a torch state dict") as error:
        load_vpt_model(model, weights)
    assert "\n" not in str(error.value)
