"""Checks that an experiment directory's saved state is whole before Tune resumes it.

Tune reads a truncated `experiment_state-*.json` by logging a traceback and starting the trials
afresh (iteration 1, over the old checkpoints and rows), and a truncated `tuner.pkl` or checkpoint
file by a long pickle traceback. Resuming first checks, without unpickling anything, that every
file Tune will read parses: the newest of each of its state files, `tuner.pkl`, and the latest
checkpoint it registered for each trial it will restore (an unregistered newer checkpoint
directory, e.g. one whose copy a kill cut off, is not read by Tune and not checked here).
"""

from __future__ import annotations

import fnmatch
import json
import pickletools
import re
from pathlib import PurePosixPath

import pyarrow.fs

from behaviorlab.platform.runner import RunError

# The state files Tune (2.60) writes next to tuner.pkl; it restores from the newest of each. All
# but the experiment state are pickles, whatever their extension.
EXPERIMENT_STATE = "experiment_state-*.json"
TUNE_PICKLES = ("basic-variant-state-*.json", "search_gen_state-*.json", "searcher-state-*.pkl", "callback-states-*.pkl")
# RLlib's checkpoint metadata files; each lists the files of its component directory.
CHECKPOINT_METADATA = ("rllib_checkpoint.json", "metadata.json")
_CHECKPOINT_NAME = re.compile(r"checkpoint_\d{6}")


class DamagedFile(Exception):
    """(path, problem) of the first damaged file found."""


def _read(fs: pyarrow.fs.FileSystem, path: str) -> bytes:
    try:
        with fs.open_input_stream(path) as stream:
            data = stream.read()
    except FileNotFoundError:
        raise DamagedFile(path, "missing") from None
    except OSError as error:
        raise DamagedFile(path, f"unreadable ({error})") from None
    if not data:
        raise DamagedFile(path, "empty")
    return data


def _check_pickle(path: str, data: bytes) -> None:
    """Walk the pickle's opcodes to its STOP (pickletools builds no object, so runs no code)."""
    try:
        for _ in pickletools.genops(data):
            pass
    except ValueError as error:
        raise DamagedFile(path, f"truncated or corrupt pickle ({error})") from None


def _parse_json(path: str, data: bytes):
    try:
        return json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DamagedFile(path, f"truncated or corrupt JSON ({error})") from None


def _check_file(fs: pyarrow.fs.FileSystem, path: str, pickled: bool | None = None):
    """The parsed JSON of a JSON file; other files checked for being non-empty, and pickles
    (`pickled`, by default the .pkl files) for being whole."""
    data = _read(fs, path)
    if pickled or (pickled is None and path.endswith(".pkl")):
        _check_pickle(path, data)
    elif path.endswith(".json"):
        return _parse_json(path, data)
    return None


def _pickled_strings(hex_value: str) -> list[str]:
    """The strings inside a hex-encoded pickle (Tune stores trial objects so inside its JSON)."""
    return [arg for _, arg, _ in pickletools.genops(bytes.fromhex(hex_value)) if isinstance(arg, str)]


def _checkpoints_to_restore(state: dict) -> list[tuple[str, str]]:
    """(trial directory, newest checkpoint name) of every trial Tune will restore from a checkpoint:
    those not finished (resume_unfinished / resume_errored) with a registered checkpoint."""
    found = []
    for trial_json, runtime_json in state["trial_data"]:
        trial, runtime = json.loads(trial_json), json.loads(runtime_json)
        if trial.get("status") == "TERMINATED":
            continue
        manager = runtime.get("checkpoint_manager") or {}
        names = {PurePosixPath(text).name for text in _pickled_strings(manager.get("value", ""))
                 if _CHECKPOINT_NAME.fullmatch(PurePosixPath(text).name)}
        if names:
            found.append((trial["relative_logdir"], max(names)))
    return found


def _check_checkpoint(fs: pyarrow.fs.FileSystem, directory: str) -> None:
    """Every metadata file parses, the files it lists (constructor arguments, state) exist and are
    not empty, and every pickle in the directory is whole."""
    try:
        infos = fs.get_file_info(pyarrow.fs.FileSelector(directory, recursive=True))
    except FileNotFoundError:
        raise DamagedFile(directory, "missing (Tune's experiment state names it as the trial's latest checkpoint)") from None
    files = {info.path for info in infos if info.type == pyarrow.fs.FileType.File}
    to_check = {f"{directory}/{CHECKPOINT_METADATA[0]}"} | {path for path in files if path.endswith(".pkl")}
    for path in sorted(path for path in files if PurePosixPath(path).name in CHECKPOINT_METADATA):
        metadata = _check_file(fs, path)
        if not isinstance(metadata, dict):
            raise DamagedFile(path, "not a JSON object")
        folder = path.rsplit("/", 1)[0]
        to_check |= {f"{folder}/{name}" for name in [metadata.get("class_and_ctor_args_file")] if name}
        state = metadata.get("state_file")
        if state:  # RLlib writes it as <state_file>.pkl or .msgpack
            to_check.add(next((f"{folder}/{state}{ext}" for ext in (".msgpack", ".pkl") if f"{folder}/{state}{ext}" in files),
                              f"{folder}/{state}.pkl"))
    for path in sorted(to_check):
        _check_file(fs, path)


def find_damage(exp_dir: str) -> tuple[str, str] | None:
    """(path, problem) of the first damaged file a resume of `exp_dir` would read, or None."""
    fs, root = pyarrow.fs.FileSystem.from_uri(exp_dir)
    root = root.rstrip("/")
    names = [info.base_name for info in fs.get_file_info(pyarrow.fs.FileSelector(root))]
    newest = {pattern: max(fnmatch.filter(names, pattern), default=None) for pattern in (EXPERIMENT_STATE, *TUNE_PICKLES)}
    try:
        _check_file(fs, f"{root}/tuner.pkl")
        for pattern in TUNE_PICKLES:
            if newest[pattern]:
                _check_file(fs, f"{root}/{newest[pattern]}", pickled=True)
        if not newest[EXPERIMENT_STATE]:
            raise DamagedFile(f"{root}/{EXPERIMENT_STATE}", "missing")
        state_path = f"{root}/{newest[EXPERIMENT_STATE]}"
        try:
            checkpoints = _checkpoints_to_restore(_check_file(fs, state_path))
        except (KeyError, TypeError, ValueError) as error:  # parses, but not as Tune wrote it
            raise DamagedFile(state_path, f"not a Tune experiment state ({type(error).__name__}: {error})") from None
        for trial_dir, checkpoint in checkpoints:
            _check_checkpoint(fs, f"{root}/{trial_dir}/{checkpoint}")
    except DamagedFile as damage:
        return damage.args
    return None


def check_resumable(exp_dir: str) -> None:
    """RunError naming the damaged file when resuming `exp_dir` would read one; nothing is changed."""
    damage = find_damage(exp_dir)
    if damage:
        path, problem = damage
        raise RunError(f"cannot resume {exp_dir}: {path} is damaged: {' '.join(problem.split())}; nothing was "
                       f"changed (its results and checkpoints are kept as they are); restore that file from a copy, "
                       f"or start a new run without --resume (it writes to a new directory)")
