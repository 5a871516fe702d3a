"""VPT (Minecraft contractor) recordings → trajectory datasets.

Input: an index file `{"basedir": DIR, "relpaths": [...]}`; each relpath names `<DIR>/<relpath>.mp4`
(640×360, 20 Hz) and `<DIR>/<relpath>.jsonl` (one JSON object per video frame). A relative basedir
is relative to the index file; a relpath may carry the `.mp4` suffix, as the published indexes do.

Each jsonl line becomes one action in the VPT / MineRL 1.0 action space: a dict of 0/1 buttons
plus `camera`, float32 degrees [pitch, yaw].
- Keys: key.keyboard.{w,s,a,d,space,left.shift,left.control,e,q,f,1–9,escape} → forward, back,
  left, right, jump, sneak, sprint, inventory, drop, swapHands, hotbar.1–9, ESC. Mouse buttons
  0/1/2 → attack, use, pickItem. Other keys are ignored.
- camera = [dy, dx] × 360/2400 degrees: camera[0] is pitch (positive looks down: screen y and
  Minecraft's pitch both grow downwards), camera[1] is yaw (positive turns right). MineRL's camera
  action has this order and these signs. Values are clipped to MineRL's ±180°.
- Hotbar: a change of the `hotbar` field (slot 0–8) from the previous line sets hotbar.<slot+1>,
  because scroll-wheel selection never shows up as a key. The first line is compared with slot 0,
  where a MineRL episode starts.
- Attack stuck from the first frame (the recorder sometimes starts with button 0 "newly pressed"
  and held): cleared until the button is released or pressed anew.
- Null actions (no mapped key or button, no mouse movement, no hotbar change) are skipped: their
  frame is still decoded, so frame i always pairs with line i, but no step is written. Unlike the
  reference loader, which decides "null" before the hotbar rule, a line whose only input is a
  hotbar change is kept; otherwise that selection would be lost.
- While a GUI is open (inventory, crafting table, chest: `isGuiOpen`), the mouse moves a cursor,
  not the view. MineRL draws that cursor and moves it by the camera action, but the recordings do
  not show it; as in the reference loader, the camera action is kept unchanged and a cursor is drawn
  onto the frame at the recorded mouse position (`mouse.x/y`, in 720p GUI pixels).
- Frames are RGB, resized with bilinear interpolation (as the VPT agent does) to `size`
  (height, width; default 128×128, squashing 16:9 as VPT does).

Each relpath becomes one episode (source = relpath; its last step truncated: a recording ends, the
game does not; no rewards), with per-step info `frame_index` (index of the frame in the mp4, equal
to the line's index in the jsonl), `gui_open` and `hotbar`.

`convert_vpt` skips relpaths already in the output dataset, so a stopped conversion resumes.
Each segment is decoded by one task that writes its own shard file; with `use_ray=True` the tasks
are a Ray Data job (`ray.data.from_items(segments).map(...)`), on the local machine or, under
`ray job submit`, across a cluster (then the index's files and the output directory must be on
storage every node sees).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from behaviorlab.envs.datasets.ray_jobs import quiet_ray_data, start_ray
from behaviorlab.envs.datasets.trajectories import (
    METADATA_FILE,
    DatasetError,
    DatasetSpec,
    ShardWriter,
    TrajectoryWriter,
    describe,
)

KEYBOARD_BUTTONS = {
    "key.keyboard.w": "forward",
    "key.keyboard.s": "back",
    "key.keyboard.a": "left",
    "key.keyboard.d": "right",
    "key.keyboard.space": "jump",
    "key.keyboard.left.shift": "sneak",
    "key.keyboard.left.control": "sprint",
    "key.keyboard.e": "inventory",
    "key.keyboard.q": "drop",
    "key.keyboard.f": "swapHands",
    "key.keyboard.escape": "ESC",
    **{f"key.keyboard.{slot}": f"hotbar.{slot}" for slot in range(1, 10)},
}
MOUSE_BUTTONS = {0: "attack", 1: "use", 2: "pickItem"}
ATTACK = 0
# MineRL's order (gym sorts Dict keys): ESC, attack, back, camera, drop, forward, hotbar.1, ….
ACTION_KEYS = tuple(sorted([*KEYBOARD_BUTTONS.values(), *MOUSE_BUTTONS.values(), "camera"]))
BUTTONS = tuple(key for key in ACTION_KEYS if key != "camera")
CAMERA_DEGREES_PER_COUNT = 360 / 2400  # the recorder's mouse counts → degrees of view rotation
CAMERA_LIMIT_DEGREES = 180.0  # MineRL's camera action space is Box(-180, 180)
AGENT_SIZE = (128, 128)  # (height, width) of the VPT agent's input
MOUSE_SPACE_HEIGHT = 720  # mouse.x/y are in pixels of a 720-high GUI
# An arrow pointer for a 360-pixel-high frame (the VPT videos), tip at (0, 0): (x, y) pixels.
_CURSOR_OUTLINE = np.array([(0, 0), (0, 14), (4, 11), (7, 17), (9, 16), (6, 10), (11, 10)], np.float64)


def noop_action() -> dict[str, Any]:
    """An action with no button pressed and no camera movement."""
    action: dict[str, Any] = {key: 0 for key in BUTTONS}
    action["camera"] = np.zeros(2, np.float32)
    return {key: action[key] for key in ACTION_KEYS}


def vpt_dataset_spec(size: tuple[int, int] = AGENT_SIZE) -> DatasetSpec:
    """What a converted VPT dataset holds per step."""
    height, width = size
    return DatasetSpec(
        observation=describe({"pov": np.zeros((height, width, 3), np.uint8)}),
        action=describe(noop_action()),
        reward=False,
        info=describe({"frame_index": np.int64(0), "gui_open": False, "hotbar": np.int64(0)}),
    )


@dataclass(frozen=True)
class VPTSegment:
    relpath: str
    video: Path
    actions: Path  # the .jsonl


def load_index(index_file: str | Path) -> list[VPTSegment]:
    """The segments an index lists; DatasetError (naming the file and key) for a bad index or a
    missing .mp4/.jsonl, so nothing is written before every input is known to exist."""
    index_file = Path(index_file)
    shape = '{"basedir": DIR, "relpaths": [...]}'
    try:
        index = json.loads(index_file.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{index_file}: no such index file; give the path of a VPT index {shape}") from None
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{index_file}: cannot read it ({error}); give the path of a VPT index {shape}") from None
    except json.JSONDecodeError as error:
        raise DatasetError(f"{index_file}: not valid JSON ({error.msg} at line {error.lineno}); a VPT index is {shape}") from None
    if not isinstance(index, dict):
        raise DatasetError(f"{index_file}: (top level) is not a JSON object; a VPT index is {shape}")
    basedir, relpaths = index.get("basedir"), index.get("relpaths")
    if not isinstance(basedir, str):
        raise DatasetError(f"{index_file}:basedir: missing or not a string; a VPT index is {shape}")
    if "://" in basedir:
        raise DatasetError(f"{index_file}:basedir: {basedir} is a URL (a download index); download the files and "
                           f"set basedir to the local directory that holds the .mp4/.jsonl files")
    if not isinstance(relpaths, list) or not relpaths or not all(isinstance(r, str) and r for r in relpaths):
        raise DatasetError(f"{index_file}:relpaths: must be a non-empty list of paths; a VPT index is {shape}")
    root = (index_file.parent / basedir).resolve()
    segments, seen, missing = [], {}, []
    for position, relpath in enumerate(relpaths):
        relpath = relpath.removesuffix(".mp4")
        if relpath in seen:
            raise DatasetError(f"{index_file}:relpaths[{position}]: {relpath!r} repeats relpaths[{seen[relpath]}]; "
                               f"drop the repeat")
        seen[relpath] = position
        segment = VPTSegment(relpath, root / f"{relpath}.mp4", root / f"{relpath}.jsonl")
        missing += [(position, file) for file in (segment.video, segment.actions) if not file.is_file()]
        segments.append(segment)
    if missing:
        position, file = missing[0]
        more = f" (and {len(missing) - 1} more files)" if len(missing) > 1 else ""
        raise DatasetError(f"{index_file}:relpaths[{position}]: {file} does not exist{more}; "
                           f"download it or drop its relpath from the index")
    return segments


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a recording's .jsonl, one per video frame."""
    path = Path(path)
    records = []
    try:
        lines = path.read_text().split("\n")  # not splitlines(): typed text may hold U+2028 and the like
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read it ({error}); re-download it or drop it from the index") from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f"{path}:{number}: not valid JSON ({error.msg}); the recording is damaged: "
                               f"re-download it or drop it from the index") from None
        if not isinstance(record, dict):
            raise DatasetError(f"{path}:{number}: not a JSON object; not a VPT recording")
        records.append(record)
    return records


def _field_problem(keys: Any, buttons: Any, new_buttons: Any, dx: Any, dy: Any, hotbar: Any) -> str | None:
    """What is wrong with the types or values of a record's fields, or None."""
    def integer(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool)

    if not isinstance(keys, list) or not all(isinstance(key, str) for key in keys):
        return f"keyboard.keys {keys!r:.40} is not a list of key names"
    for name, value in (("mouse.buttons", buttons), ("mouse.newButtons", new_buttons)):
        if not isinstance(value, list) or not all(integer(button) for button in value):
            return f"{name} {value!r:.40} is not a list of button numbers"
    for name, value in (("mouse.dx", dx), ("mouse.dy", dy)):
        if not (integer(value) or isinstance(value, float)) or not math.isfinite(value):
            return f"{name} {value!r:.40} is not a finite number"
    if not integer(hotbar) or not 0 <= hotbar <= 8:
        return f"hotbar slot {hotbar!r:.40} is not 0–8"
    return None


def jsonl_to_actions(records: Sequence[dict], path: str | Path = "<jsonl>") -> list[dict[str, Any] | None]:
    """The VPT action of each record, None where the action is null (see the module docstring)."""
    actions: list[dict[str, Any] | None] = []
    attack_stuck = False
    previous_hotbar = 0
    for number, record in enumerate(records):
        try:
            mouse, keys, hotbar = record["mouse"], record["keyboard"]["keys"], record["hotbar"]
            buttons, new_buttons, dx, dy = mouse["buttons"], mouse["newButtons"], mouse["dx"], mouse["dy"]
        except KeyError as error:
            raise DatasetError(f"{path}:{number + 1}: no usable {error} in this record; not a VPT recording") from None
        except TypeError:
            raise DatasetError(f"{path}:{number + 1}: mouse or keyboard is not a JSON object; not a VPT recording") from None
        problem = _field_problem(keys, buttons, new_buttons, dx, dy, hotbar)
        if problem:
            raise DatasetError(f"{path}:{number + 1}: {problem}; not a VPT recording")
        buttons, new_buttons = set(buttons), set(new_buttons)
        if number == 0:
            attack_stuck = ATTACK in buttons and ATTACK in new_buttons
        elif attack_stuck and (ATTACK in new_buttons or ATTACK not in buttons):
            attack_stuck = False
        if attack_stuck:
            buttons.discard(ATTACK)

        action = noop_action()
        pressed = [KEYBOARD_BUTTONS[key] for key in keys if key in KEYBOARD_BUTTONS]
        pressed += [MOUSE_BUTTONS[button] for button in buttons if button in MOUSE_BUTTONS]
        if hotbar != previous_hotbar:
            pressed.append(f"hotbar.{hotbar + 1}")
        previous_hotbar = hotbar
        for key in pressed:
            action[key] = 1
        camera = np.array([dy, dx]) * CAMERA_DEGREES_PER_COUNT
        action["camera"] = np.clip(camera, -CAMERA_LIMIT_DEGREES, CAMERA_LIMIT_DEGREES).astype(np.float32)
        actions.append(action if pressed or dx or dy else None)
    return actions


def resize_frame(frame: np.ndarray, size: tuple[int, int] = AGENT_SIZE) -> np.ndarray:
    """An RGB frame at the agent's input size (height, width), resized as the VPT agent does."""
    height, width = size
    if frame.shape[:2] == (height, width):
        return frame
    return cv2.resize(frame, (width, height), interpolation=cv2.INTER_LINEAR)


def draw_cursor(frame: np.ndarray, mouse_x: float, mouse_y: float) -> None:
    """Draw a mouse pointer (white, black outline) on an RGB frame, in place, its tip at the
    recorded GUI mouse position; sized as a 16-pixel pointer on a 360-pixel-high frame."""
    scale = frame.shape[0] / 360
    tip = np.array([mouse_x, mouse_y]) * frame.shape[0] / MOUSE_SPACE_HEIGHT
    points = np.round(_CURSOR_OUTLINE * scale + tip).astype(np.int32)
    cv2.fillPoly(frame, [points], (255, 255, 255))
    cv2.polylines(frame, [points], isClosed=True, color=(0, 0, 0), thickness=1)


def convert_segment(segment: VPTSegment, shard_file: str | Path, episode_id: int, *,
                    size: tuple[int, int] = AGENT_SIZE, cursor: bool = True) -> tuple[int, int, str]:
    """Decode one recording and write its non-null steps as episode `episode_id` to a ShardWriter
    file (nothing is written if every action is null). Returns (steps, frames decoded, warning)."""
    records = read_jsonl(segment.actions)
    actions = jsonl_to_actions(records, segment.actions)
    shard = ShardWriter(shard_file, vpt_dataset_spec(size))
    frames, extra_frames = 0, 0
    try:
        with av.open(str(segment.video)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # decode with frame and slice threads
            decoded = container.decode(stream)
            for frames, (record, action, frame) in enumerate(zip(records, actions, decoded), start=1):
                if action is None:
                    continue
                pixels = frame.to_ndarray(format="rgb24")
                if record.get("isGuiOpen") and cursor:
                    try:
                        mouse_x, mouse_y = float(record["mouse"]["x"]), float(record["mouse"]["y"])
                    except (KeyError, TypeError, ValueError):
                        mouse_x = mouse_y = math.nan
                    if not (math.isfinite(mouse_x) and math.isfinite(mouse_y)):
                        raise DatasetError(f"{segment.actions}:{frames}: a GUI is open but mouse x/y is missing or "
                                           f"not a number; not a VPT recording")
                    draw_cursor(pixels, mouse_x, mouse_y)
                shard.add_step(episode_id, {"pov": resize_frame(pixels, size)}, action,
                               info={"frame_index": np.int64(frames - 1), "gui_open": bool(record.get("isGuiOpen")),
                                     "hotbar": np.int64(record["hotbar"])})
            if frames == len(records) and next(decoded, None) is not None:  # zip stopped at the last line
                extra_frames = max(stream.frames - len(records), 1)  # the container's count, when it has one
    except av.error.FFmpegError as error:
        shard.abort()
        raise DatasetError(f"{segment.video}: cannot decode it ({error}); re-download it or drop it from the index") from None
    except BaseException:
        shard.abort()
        raise
    warning = ""
    if frames < len(records):
        warning = f"{len(records) - frames} of {len(records)} actions have no video frame and were dropped"
    elif extra_frames:
        more = f"{extra_frames} frames" if extra_frames > 1 else "frames"
        warning = (f"the video has {more} after the {len(records)} lines of {segment.actions.name}: frames without an "
                   f"action, dropped (a cut-off .jsonl? re-download it if so)")
    if not shard.rows:
        shard.abort()
        return 0, frames, warning
    steps = shard.end_episode(terminated=False)
    shard.close()
    return steps, frames, warning


def convert_segment_job(job: dict, *, size: Sequence[int], cursor: bool) -> dict:
    """convert_segment for one row of the conversion's job list (a Ray Data map function):
    data problems come back as `error` text instead of a task failure."""
    segment = VPTSegment(job["relpath"], Path(job["video"]), Path(job["actions"]))
    result = {**job, "num_steps": 0, "frames": 0, "warning": "", "error": ""}
    try:
        result["num_steps"], result["frames"], result["warning"] = convert_segment(
            segment, job["shard_file"], job["episode_id"], size=(int(size[0]), int(size[1])), cursor=cursor)
    except DatasetError as error:
        result["error"] = str(error)
    return result


def _ray_results(jobs: list[dict], size: Sequence[int], cursor: bool) -> Iterator[dict]:
    import ray.data

    quiet_ray_data()
    dataset = ray.data.from_items(jobs, override_num_blocks=len(jobs))  # one task per segment
    yield from dataset.map(convert_segment_job, fn_kwargs={"size": list(size), "cursor": cursor}, num_cpus=1).iter_rows()


@dataclass(frozen=True)
class ConversionSummary:
    path: Path
    segments_converted: int  # segments written as episodes in this run
    segments_skipped: int  # already in the dataset (a resumed conversion)
    segments_empty: int  # every action null: no episode
    num_episodes: int  # in the dataset now
    steps_added: int
    frames_decoded: int
    seconds: float

    @property
    def frames_per_second(self) -> float:
        return self.frames_decoded / max(self.seconds, 1e-9)


def convert_vpt(index_file: str | Path, out_dir: str | Path, *, size: tuple[int, int] = AGENT_SIZE,
                use_ray: bool = False, cursor: bool = True, command: str = "", progress: bool = True) -> ConversionSummary:
    """Convert every segment of a VPT index into the trajectory dataset at `out_dir`, creating it,
    or resuming it (segments already there are skipped; the settings must match).

    size: (height, width) of the stored frames. use_ray: run the per-segment tasks as a Ray Data
    job (starting a local Ray unless one is running or RAY_ADDRESS names a cluster). cursor: draw
    the mouse cursor on frames with a GUI open. command: recorded in metadata.json. progress: print
    one line per finished segment (steps, episodes, frames/s).
    """
    index_file, out_dir = Path(index_file), Path(out_dir)
    size = (int(size[0]), int(size[1]))
    if min(size) < 1:
        raise DatasetError(f"size {size[0]}x{size[1]}: frame height and width must be positive")
    segments = load_index(index_file)
    exists = (out_dir / METADATA_FILE).exists()
    writer = TrajectoryWriter(out_dir, mode="append" if exists else "create", spec=vpt_dataset_spec(size),
                              source=f"VPT index {index_file.resolve()}", command=command,
                              attributes={"frame_size": list(size), "cursor": cursor})
    started_ray = False
    frames = steps = empty = converted = 0
    try:
        with writer:
            done = writer.sources
            todo = [segment for segment in segments if segment.relpath not in done]
            jobs = [{"relpath": segment.relpath, "video": str(segment.video), "actions": str(segment.actions),
                     "episode_id": writer.next_episode_id + position, "shard_file": str(writer.staging_file())}
                    for position, segment in enumerate(todo)]
            if use_ray and jobs:
                started_ray = start_ray()
            log = _ProgressLog(progress)  # times and rates count from here, after Ray's start-up
            log.line(f"converting {len(todo)} of {len(segments)} segments from {index_file} into {out_dir} "
                     f"({size[0]}x{size[1]} frames, {'Ray Data' if use_ray else 'local'})"
                     + (f"; {len(segments) - len(todo)} already converted" if len(todo) < len(segments) else ""))
            if use_ray and jobs:
                results = _ray_results(jobs, size, cursor)
            else:
                results = (convert_segment_job(job, size=size, cursor=cursor) for job in jobs)
            for finished, result in enumerate(results, start=1):
                if result["error"]:
                    kept = writer.num_episodes
                    raise DatasetError(result["error"] + (f"; then re-run to resume ({kept} converted segments are kept)"
                                                          if kept else ""))
                frames += int(result["frames"])
                if int(result["num_steps"]):
                    writer.add_shard(result["shard_file"], [(int(result["episode_id"]), result["relpath"],
                                                             int(result["num_steps"]))])
                    steps += int(result["num_steps"])
                    converted += 1
                else:
                    empty += 1
                note = f" | {result['warning']}" if result["warning"] else ""
                log.timed(f"{finished}/{len(jobs)} segments | episodes {writer.num_episodes:,} | steps "
                          f"{writer.num_steps:,} | {frames / log.elapsed():,.0f} frames/s | {result['relpath']}{note}")
    finally:
        if started_ray:
            import ray

            ray.shutdown()
    summary = ConversionSummary(out_dir, converted, len(segments) - len(jobs), empty, writer.num_episodes, steps,
                                frames, log.elapsed())
    log.line(f"done: {out_dir}: {summary.num_episodes:,} episodes, {writer.num_steps:,} steps; this run added "
             f"{converted} episodes ({steps:,} steps){f', {empty} segments had only null actions' if empty else ''}; "
             f"{frames:,} frames in {summary.seconds:.1f} s ({summary.frames_per_second:,.0f} frames/s)")
    return summary


class _ProgressLog:
    def __init__(self, enabled: bool):
        self.start, self.enabled = time.monotonic(), enabled

    def elapsed(self) -> float:
        return max(time.monotonic() - self.start, 1e-9)

    def line(self, text: str) -> None:
        if self.enabled:
            print(text, flush=True)

    def timed(self, text: str) -> None:
        seconds = int(self.elapsed())
        self.line(f"[{seconds // 60:02d}:{seconds % 60:02d}] {text}")
