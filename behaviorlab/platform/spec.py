"""Experiment spec: the YAML a user writes, validated completely before Ray starts.

Every problem becomes one `SpecError` whose text is `file:key: what is wrong; how to fix`.
Before validation, `--set KEY=VALUE` overrides (YAML-typed) are applied to the file's mapping and
`${VAR}` / `${VAR:-default}` in string values are replaced from the environment, so both are
validated exactly like the file.
"""

from __future__ import annotations

import difflib
import math
import os
import re
import types
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from behaviorlab.platform.registry import ALGORITHMS, AlgorithmError, algorithm_config_class, apply_config

# Central inference acts with parameters a few updates old: only learners that correct for the
# behaviour policy (V-trace, Retrace) may use it. Subclasses count (APPO, LBC, PTGMACER).
OFF_POLICY_CORRECTED = ("ray.rllib.algorithms.impala:IMPALAConfig", "behaviorlab.algorithms.acer.config:ACERConfig")
# Friendly names for the result keys users stop on and optimise (RLlib new API stack keys).
FRIENDLY_METRICS = {
    "env_steps": "num_env_steps_sampled_lifetime",
    "episode_return_mean": "env_runners/episode_return_mean",
    "time_s": "time_total_s",
    "iterations": "training_iteration",
}
# Top-level result keys that are neither friendly names nor nested ("group/key") RLlib metrics.
RAW_TOP_LEVEL_KEYS = {"training_iteration", "time_total_s", "num_env_steps_sampled_lifetime",
                      "time_this_iter_s", "time_since_restore", "iterations_since_restore"}
SEARCH_SPACES = ("grid_search", "choice", "uniform", "loguniform", "randint")
# Config fields the spec sets elsewhere, so that each setting has exactly one home.
CONFIG_FIELDS_ELSEWHERE = {
    "env": "env", "env_config": "env_config", "seed": "seeds",
    "num_env_runners": "resources.num_env_runners",
    "num_envs_per_env_runner": "resources.num_envs_per_env_runner",
    "num_cpus_per_env_runner": "resources.num_cpus_per_env_runner",
    "num_learners": "resources.num_learners",
    "num_gpus_per_learner": "resources.num_gpus_per_learner",
}
SCHEDULERS = {
    "fifo": "ray.tune.schedulers:FIFOScheduler",
    "asha": "ray.tune.schedulers:ASHAScheduler",
    "pbt": "behaviorlab.platform.schedulers:PopulationBasedTraining",
    "pb2": "behaviorlab.platform.schedulers:PB2",
}
SEARCHERS = ("random", "optuna")
# Experiment names become directory names (plus `-N` and trial folders inside), so one rule for the
# spec's `name:` and `--name`: a single path component, well below the filesystem's 255 bytes.
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
MAX_NAME_LENGTH = 100
# Scheduler arguments the runner fills in from the rest of the spec.
_RUNNER_SET_SCHEDULER_ARGS = {"metric", "mode"}
# A spec is a few KB; reading stops here, so /dev/zero or a wrong path to a data file fails at once.
MAX_SPEC_BYTES = 1 << 20
# YAML aliases let a few lines stand for billions of values ("billion laughs"): the document is
# measured with its aliases expanded, before anything walks it.
MAX_YAML_NODES = 100_000
MAX_YAML_DEPTH = 64
# numpy seeds must be below 2**32 and RLlib seeds runner i with seed + i (+ 10**6 for evaluation).
MAX_SEED = 2**31 - 1
# Batch sizes past this are typos (10**12 would sample for ever before the first update).
MAX_BATCH_SIZE = 10**8
_BATCH_SIZE_FIELD = re.compile(r"batch_size|^rollout_fragment_length$")
# ASHA keeps a list of rungs per bracket; more than this (reduction_factor 1.0001, ...) is a mistake.
MAX_ASHA_RUNGS = 10_000
# A "did you mean" names at most this many fields; a "valid: ..." list only when the options are few.
MAX_SUGGESTIONS = 5
MAX_LISTED = 20
# `${VAR}` or `${VAR:-default}` inside a string value.
_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


class SpecError(Exception):
    """One validation problem, formatted as `file:key: problem; fix`."""

    def __init__(self, file: str | Path, key: str, problem: str, fix: str):
        key, problem = _clip(str(key), 120), _clip(problem, 400)
        # One printable line whatever the file holds: newlines or terminal escapes in a key or value
        # are shown escaped.
        self.file, self.key, self.problem, self.fix = file, key, problem, fix
        text = f"{file}:{key}: {problem}; {fix}"
        super().__init__("".join(c if c.isprintable() else repr(c)[1:-1] for c in text))


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class Resources(_Strict):
    num_env_runners: int = Field(1, ge=0)
    num_envs_per_env_runner: int = Field(1, ge=1)
    num_cpus_per_env_runner: float = Field(1, gt=0)
    num_learners: int = Field(0, ge=0)
    num_gpus_per_learner: float = Field(0, ge=0)
    # SEED-style central inference (behaviorlab/platform/central_inference.py): one server batches
    # every runner's act requests, up to inference_max_batch rows (default: all envs of all runners)
    # or inference_timeout_ms after the oldest request.
    central_inference: bool = False
    inference_max_batch: int | None = Field(None, ge=1)
    inference_timeout_ms: float | None = Field(None, ge=0, le=10_000)


class Tune(_Strict):
    num_samples: int = Field(1, ge=1)
    metric: str = "episode_return_mean"
    mode: Literal["max", "min"] = "max"
    scheduler: dict[str, Any] | None = None
    search: dict[str, Any] | None = None
    max_concurrent_trials: int | None = Field(None, ge=1)


class Checkpoint(_Strict):
    every: int = Field(10, ge=0)
    at_end: bool = True
    keep: int | None = Field(None, ge=1)


class Wandb(_Strict):
    """WANDB_MODE / WANDB_PROJECT / WANDB_ENTITY / WANDB_DIR win over these (see wandb_settings.py)."""

    project: str = "behaviorlab"
    entity: str | None = None
    group: str | None = None
    tags: list[str] = []
    # None: online where an API key is configured, else offline.
    mode: Literal["offline", "online", "disabled"] | None = None
    settings: dict[str, Any] = {}  # fields of wandb.Settings, e.g. {init_timeout: 120}


class Logging(_Strict):
    wandb: Wandb = Wandb()
    tensorboard: bool = True


class ExperimentSpec(_Strict):
    name: str = Field("", pattern=NAME_PATTERN, max_length=MAX_NAME_LENGTH)
    algorithm: str
    env: str | dict[str, Any]  # an env id, or {grid_search: [id, ...]}: one trial per env
    env_config: dict[str, Any] = {}
    config: dict[str, Any] = {}
    resources: Resources = Resources()
    stop: dict[str, float]
    seeds: list[int] = Field([0], min_length=1)
    tune: Tune = Tune()
    checkpoint: Checkpoint = Checkpoint()
    logging: Logging = Logging()
    # The YAML that was validated, when --set or ${VAR} made it differ from the file's text.
    _effective_yaml: str | None = PrivateAttr(None)
    # The --set KEY=VALUE overrides applied (a resumed run must be given them again).
    _overrides: tuple[str, ...] = PrivateAttr(())

    @property
    def overrides(self) -> tuple[str, ...]:
        return self._overrides

    @property
    def envs(self) -> list[str]:
        """The env ids the trials run on: the one `env`, or every id of its grid_search."""
        return list(self.env["grid_search"]) if isinstance(self.env, dict) else [self.env]

    @property
    def env_label(self) -> str:
        envs = self.envs
        return envs[0] if len(envs) == 1 else f"{len(envs)} envs ({', '.join(envs[:3])}{', …' if len(envs) > 3 else ''})"

    def effective_yaml(self, spec_path: str | Path) -> str:
        """The spec as the run used it: the file's text, or the mapping with overrides applied."""
        return self._effective_yaml or Path(spec_path).read_text()


class _YAMLLimitError(yaml.MarkedYAMLError):
    """A YAML document that parses but is refused (alias bomb, cycle, duplicate key, ...), with its fix."""

    def __init__(self, problem: str, mark, fix: str):
        super().__init__(problem=problem, problem_mark=mark)
        self.fix = fix


class _Loader(yaml.SafeLoader):
    """SafeLoader that also reads `3e-4` as a float (YAML 1.1 demands `3.0e-4`), refuses duplicate
    keys, and refuses documents too big, too deep or cyclic once aliases are expanded."""

    _depth = 0

    def compose_node(self, parent, index):
        # PyYAML composes recursively: refuse deep nesting before Python's recursion limit does.
        self._depth += 1
        try:
            if self._depth > MAX_YAML_DEPTH:
                raise _YAMLLimitError(f"nested more than {MAX_YAML_DEPTH} levels deep", self.peek_event().start_mark,
                                      "flatten the structure")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_document(self):
        node = super().compose_document()
        _measure(node, 0, {}, set())
        return node

    def construct_mapping(self, node, deep=False):
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base` may override on purpose
                continue
            key = self.construct_object(key_node, deep=deep)
            try:
                if key in first_line:
                    raise _YAMLLimitError(f"duplicate key '{key}' (first on line {first_line[key]})",
                                          key_node.start_mark, "keep one of them")
                first_line[key] = key_node.start_mark.line + 1
            except TypeError:  # an unhashable key: SafeLoader reports it below
                continue
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        try:
            return super().construct_yaml_int(node)
        except ValueError:  # Python refuses to parse integers of more than 4300 digits
            raise _YAMLLimitError(f"an integer of {len(node.value):,} digits", node.start_mark,
                                  "give a smaller number") from None


def _measure(node: yaml.Node, depth: int, measured: dict[int, tuple[int, int]],
             open_nodes: set[int]) -> tuple[int, int]:
    """(values, height) of `node` with every alias expanded, each distinct node visited once; raises
    past MAX_YAML_NODES / MAX_YAML_DEPTH, or when a node contains itself (`&a [*a]`)."""
    if id(node) in open_nodes:
        raise _YAMLLimitError("an anchor refers to itself", node.start_mark,
                              "an alias (*name) must refer to a complete node, not one that contains it")
    if id(node) not in measured:
        if isinstance(node, yaml.MappingNode):
            children = [child for pair in node.value for child in pair]
        else:
            children = node.value if isinstance(node, yaml.SequenceNode) else []
        open_nodes.add(id(node))
        size, height = 1, 0
        for child in children:
            child_size, child_height = _measure(child, depth + 1, measured, open_nodes)
            size, height = size + child_size, max(height, child_height + 1)
            if size > MAX_YAML_NODES:
                raise _YAMLLimitError(f"more than {MAX_YAML_NODES:,} values once aliases are expanded",
                                      node.start_mark, "a spec needs far fewer; remove the repeated aliases")
        open_nodes.discard(id(node))
        measured[id(node)] = size, height
    size, height = measured[id(node)]
    if depth + height > MAX_YAML_DEPTH:
        raise _YAMLLimitError(f"nested more than {MAX_YAML_DEPTH} levels deep once aliases are expanded",
                              node.start_mark, "flatten the structure")
    return size, height


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$|^[-+]?\d[\d_]*\.\d*$|^[-+]?\.\d+$|^[-+]?\.(?:inf|Inf|INF)$|^\.(?:nan|NaN|NAN)$"),
    list("-+0123456789."),
)


def result_key(name: str) -> str:
    """Friendly metric name → the Tune result key (raw keys pass through)."""
    return FRIENDLY_METRICS.get(name, name)


def _closest(word: str, options) -> str:
    """'did you mean' with the few close names, or the valid names when they are few."""
    close = difflib.get_close_matches(str(word), list(options), n=MAX_SUGGESTIONS, cutoff=0.6)
    if close:
        others = f" (or {', '.join(repr(name) for name in close[1:])})" if close[1:] else ""
        return f"did you mean '{close[0]}'?{others}"
    if len(options) <= MAX_LISTED:
        return f"valid: {', '.join(sorted(options))}"
    return f"none of the {len(options)} valid names is close; check the spelling"


def _pydantic_error(file: Path, error: ValidationError) -> SpecError:
    first = error.errors()[0]
    loc = [str(part) for part in first["loc"]]
    field = ExperimentSpec.model_fields.get(loc[0]) if loc else None
    if len(loc) == 2 and field is not None and isinstance(field.annotation, types.UnionType):
        loc = loc[:1]  # `env.str`: pydantic names the branch of `str | dict` it tried; the key is `env`
    key = ".".join(loc) or "(top level)"
    if first["type"] == "extra_forbidden":
        model: type[BaseModel] = ExperimentSpec
        for part in loc[:-1]:
            model = model.model_fields[part].annotation
        return SpecError(file, key, f"unknown key '{loc[-1]}'", _closest(loc[-1], model.model_fields))
    if first["type"] == "missing":
        return SpecError(file, key, "required key is missing", f"add '{loc[-1]}:' to the file")
    if loc == ["name"] and first["type"] in ("string_pattern_mismatch", "string_too_long"):
        try:
            check_experiment_name(file, key, first["input"])
        except SpecError as name_error:
            return name_error
    return SpecError(file, key, f"{first['msg'].lower()} (got {first['input']!r})", "fix the value")


def check_experiment_name(file: str | Path, key: str, name: str) -> None:
    """The one rule for experiment names, from a spec's `name:` or from `--name`."""
    if len(name) > MAX_NAME_LENGTH:
        raise SpecError(file, key, f"name is {len(name)} characters long", f"use at most {MAX_NAME_LENGTH}")
    if not re.match(NAME_PATTERN, name):
        raise SpecError(file, key, f"{name!r} is not a valid name",
                        "use letters, digits, '.', '_' and '-', starting with a letter or digit")


def is_search_space(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and next(iter(value)) in SEARCH_SPACES


def _check_search_space(file: Path, key: str, space: dict) -> None:
    kind, args = next(iter(space.items()))
    where = f"{key}.{kind}"
    if kind in ("grid_search", "choice"):
        if not isinstance(args, list) or not args:
            raise SpecError(file, where, f"{kind} needs a non-empty list (got {args!r})", f"write {kind}: [value1, value2, ...]")
        return
    numbers = isinstance(args, list) and len(args) == 2 and all(
        isinstance(a, (int, float)) and not isinstance(a, bool) and math.isfinite(a) for a in args)
    if not numbers:
        raise SpecError(file, where, f"{kind} needs two finite numbers [low, high] (got {args!r})", f"write {kind}: [low, high]")
    low, high = args
    if low >= high:
        raise SpecError(file, where, f"low {low} is not below high {high}", "write [low, high] with low < high")
    if kind == "loguniform" and low <= 0:
        raise SpecError(file, where, f"loguniform needs low > 0 (got {low})", "use a positive lower bound")
    if kind == "randint" and not all(isinstance(a, int) for a in args):
        raise SpecError(file, where, f"randint needs integers (got {args!r})", "write randint: [low, high) with integers")


def _walk_search_spaces(file: Path, key: str, value: Any, found: list[str]) -> None:
    """Validate every search space nested in `value`, recording where each one is."""
    if is_search_space(value):
        _check_search_space(file, key, value)
        found.append(f"{key}.{next(iter(value))}")
    elif isinstance(value, dict):
        for sub_key, sub_value in value.items():
            _walk_search_spaces(file, f"{key}.{sub_key}", sub_value, found)


def sample_value(value: Any) -> Any:
    """One concrete value of a possibly nested search space (the first grid/choice value, the low bound)."""
    if is_search_space(value):
        return next(iter(value.values()))[0]
    if isinstance(value, dict):
        return {key: sample_value(sub) for key, sub in value.items()}
    return value


def _config_fields(config_class: type) -> set[str]:
    instance = config_class()
    fields = {name for name in vars(instance) if not name.startswith("_")}
    fields |= {name for klass in config_class.__mro__ for name, attr in vars(klass).items()
               if isinstance(attr, property) and not name.startswith("_")}
    return fields


def _numbers(value: Any) -> list[float]:
    """Every number a config value may take: itself, its grid/choice values, its range bounds."""
    if is_search_space(value):
        value = next(iter(value.values()))
    if isinstance(value, (list, tuple)):
        return [number for item in value for number in _numbers(item)]
    if isinstance(value, dict):
        return [number for item in value.values() for number in _numbers(item)]
    return [value] if isinstance(value, (int, float)) and not isinstance(value, bool) else []


def _check_numbers(file: Path, key: str, field: str, value: Any) -> None:
    """What RLlib accepts but cannot run: NaN anywhere, batch sizes beyond any machine."""
    for number in _numbers(value):
        if number != number:
            raise SpecError(file, key, "NaN is not a value", "give a number")
        if _BATCH_SIZE_FIELD.search(field) and not 0 < number <= MAX_BATCH_SIZE:
            raise SpecError(file, key, f"batch size {number} is outside 1..{MAX_BATCH_SIZE:,}",
                            "give the number of env steps per batch")


def _check_config(file: Path, spec: ExperimentSpec) -> list[str]:
    config_class = algorithm_config_class(spec.algorithm)
    fields = _config_fields(config_class)
    spaces: list[str] = []
    for key, value in spec.config.items():
        if key in CONFIG_FIELDS_ELSEWHERE:
            raise SpecError(file, f"config.{key}", f"'{key}' is set by the spec's '{CONFIG_FIELDS_ELSEWHERE[key]}'",
                            "move it there")
        if key not in fields:
            raise SpecError(file, f"config.{key}", f"{config_class.__name__} has no field '{key}'",
                            _closest(key, {f for f in fields if not f.startswith("_")}))
        _walk_search_spaces(file, f"config.{key}", value, spaces)
        _check_numbers(file, f"config.{key}", key, value)
    # Let RLlib check value types and consistency on one concrete sample of the search space.
    try:
        config = apply_config(config_class(), sample_value(spec.config))
        config.env_runners(num_env_runners=spec.resources.num_env_runners,
                           num_envs_per_env_runner=spec.resources.num_envs_per_env_runner)
        config.validate()
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        # RLlib appends advice to switch its validation off; that is not a fix we offer.
        problem = " ".join(str(error).split()).split(" To suppress all validation errors")[0]
        raise SpecError(file, "config", f"RLlib rejects the configuration: {problem[:300]}",
                        "fix the config values it names") from None
    return spaces


def check_inputs(file: Path, spec: ExperimentSpec) -> None:
    """Inputs that other runs make (e.g. a pre-trained prior) must exist before a run starts. Not
    part of `load_spec`: a transfer spec is valid before its pre-training run has happened.
    Every value of a grid or choice is checked (with the other keys at their first value) for every
    seed, so a sweep over inputs fails here, not in its third trial."""
    config_class = algorithm_config_class(spec.algorithm)
    first = sample_value(spec.config)
    variants = [first]
    for key, value in spec.config.items():
        if is_search_space(value) and next(iter(value)) in ("grid_search", "choice"):
            variants += [{**first, key: option} for option in next(iter(value.values()))[1:]]
    for variant in variants:
        for seed in spec.seeds:  # an input path may name the seed ({seed})
            config = apply_config(config_class(), variant).debugging(seed=seed)
            for key, (problem, fix) in getattr(config, "missing_inputs", dict)().items():
                raise SpecError(file, f"config.{key}", problem, fix)


def _check_metric_name(file: Path, key: str, name: str) -> None:
    if name in FRIENDLY_METRICS or name in RAW_TOP_LEVEL_KEYS or "/" in name:
        return
    raise SpecError(file, key, f"unknown metric '{name}'",
                    f"{_closest(name, set(FRIENDLY_METRICS) | RAW_TOP_LEVEL_KEYS)} "
                    "(nested result keys are written group/key, e.g. env_runners/episode_len_mean)")


def _check_env(file: Path, spec: ExperimentSpec) -> None:
    """Names via the registry, values by building each env once, one game per family of a grid
    (its creator checks ranges). The creator is the user's code: whatever it raises, SystemExit
    included, is this spec's error and must not end `validate` before the other files are checked."""
    from behaviorlab.envs import EnvConfigError, check_env_config, env_info, make_env

    if isinstance(spec.env, dict):
        grid = spec.env.get("grid_search")
        if set(spec.env) != {"grid_search"} or not isinstance(grid, list) or not grid \
                or not all(isinstance(env_id, str) and env_id for env_id in grid):
            raise SpecError(file, "env", f"{spec.env!r} is neither an env id nor a grid of them",
                            "write env: CartPole-v1, or env: {grid_search: [CartPole-v1, Acrobot-v1]}")
        if len(set(grid)) != len(grid):
            raise SpecError(file, "env.grid_search", f"repeated env ids {grid}", "list each env once")
    built: set[str] = set()
    for index, env_id in enumerate(spec.envs):
        where = "env" if isinstance(spec.env, str) else f"env.grid_search.{index}"
        try:
            check_env_config(env_id, spec.env_config)
            # Games of one family share one creator, so one build checks the env_config's values
            # (building all 57 Atari games took ~15 s).
            family = env_info(env_id).family
            creator = family if family in ("atari", "minatar", "babyai") else env_id
            if creator not in built:
                make_env(env_id, spec.env_config).close()
                built.add(creator)
        except EnvConfigError as error:
            problem, _, fix = str(error).partition("; ")
            if len(spec.envs) > 1 and env_id not in problem:
                problem = f"{env_id}: {problem}"
            raise SpecError(file, where if error.key == "env" else error.key, problem,
                            fix or "fix the env settings") from None
        except KeyboardInterrupt:
            raise
        except BaseException as error:
            detail = " ".join(str(error).split())
            problem = f"{type(error).__name__}: {detail}" if detail else type(error).__name__
            fix = ("the env's creator must return an env, not exit" if isinstance(error, SystemExit)
                   else "fix the env_config values")
            raise SpecError(file, "env_config", f"{env_id} cannot be built: {problem}", fix) from None


def _check_wandb(file: Path, spec: ExperimentSpec) -> None:
    from behaviorlab.platform.wandb_settings import WandbSettingsError, resolve

    try:
        resolve(spec.logging.wandb, spec.name)
    except WandbSettingsError as error:
        problem, _, fix = str(error).partition("; ")
        raise SpecError(file, "logging.wandb.mode", problem, fix) from None
    if spec.logging.wandb.settings:
        import wandb

        try:
            wandb.Settings(**spec.logging.wandb.settings)
        except ValidationError as error:
            first = error.errors()[0]
            name = ".".join(str(part) for part in first["loc"])
            key = f"logging.wandb.settings.{name}"
            if first["type"] == "extra_forbidden":
                raise SpecError(file, key, f"wandb.Settings has no field '{name}'",
                                _closest(name, wandb.Settings.model_fields)) from None
            raise SpecError(file, key, f"{first['msg'].lower()} (got {first.get('input')!r})", "fix the value") from None


def _check_central_inference(file: Path, spec: ExperimentSpec) -> None:
    import importlib

    resources = spec.resources
    if not resources.central_inference:
        for key in ("inference_max_batch", "inference_timeout_ms"):
            if getattr(resources, key) is not None:
                raise SpecError(file, f"resources.{key}", "applies only with central inference",
                                "add resources.central_inference: true or remove it")
        return
    config_class = algorithm_config_class(spec.algorithm)
    corrected = tuple(getattr(importlib.import_module(path.partition(":")[0]), path.partition(":")[2])
                      for path in OFF_POLICY_CORRECTED)
    if not issubclass(config_class, corrected):
        raise SpecError(file, "resources.central_inference",
                        f"{spec.algorithm} does not correct for a lagging behaviour policy",
                        "use IMPALA, APPO, ACER or LBC (V-trace / Retrace), or remove central_inference")


def _check_stop(file: Path, spec: ExperimentSpec) -> None:
    if not spec.stop:
        raise SpecError(file, "stop", "no stop condition", "add at least one, e.g. stop: {env_steps: 100000}")
    for name, value in spec.stop.items():
        _check_metric_name(file, f"stop.{name}", name)
        if not math.isfinite(value):
            raise SpecError(file, f"stop.{name}", f"{value} is not a finite number", "give a finite threshold")
        if name in ("env_steps", "time_s", "iterations") and value <= 0:
            raise SpecError(file, f"stop.{name}", f"{value} must be positive", "give a positive budget")


def _signature_params(import_path: str) -> tuple[type, set[str]]:
    import importlib
    import inspect

    module_name, _, attr = import_path.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    return cls, set(inspect.signature(cls.__init__).parameters) - {"self"}


def _check_scheduler(file: Path, spec: ExperimentSpec, config_spaces: list[str]) -> None:
    scheduler = dict(spec.tune.scheduler or {})
    kind = scheduler.pop("type", None)
    if kind is None and not scheduler:
        return
    if kind not in SCHEDULERS:
        raise SpecError(file, "tune.scheduler.type", f"unknown scheduler {kind!r}", f"use one of: {', '.join(SCHEDULERS)}")
    if kind == "pb2":
        try:
            import sklearn  # noqa: F401  (PB2's Gaussian process needs it)
        except ImportError:
            raise SpecError(file, "tune.scheduler.type", "pb2 needs scikit-learn", "pip install 'behaviorlab[pb2]'") from None
    _, params = _signature_params(SCHEDULERS[kind])
    for arg in scheduler:
        if arg in _RUNNER_SET_SCHEDULER_ARGS:
            raise SpecError(file, f"tune.scheduler.{arg}", f"'{arg}' comes from tune.{arg}", "remove it here")
        if arg not in params:
            raise SpecError(file, f"tune.scheduler.{arg}", f"{kind} has no argument '{arg}'",
                            _closest(arg, params - _RUNNER_SET_SCHEDULER_ARGS))
    if kind in ("pbt", "pb2"):
        mutations_key = "hyperparam_mutations" if kind == "pbt" else "hyperparam_bounds"
        mutations = scheduler.get(mutations_key)
        if not isinstance(mutations, dict) or not mutations:
            raise SpecError(file, f"tune.scheduler.{mutations_key}", f"{kind} needs config fields to mutate",
                            f"add {mutations_key}: {{lr: {{loguniform: [1.0e-5, 1.0e-3]}}}}")
        fields = _config_fields(algorithm_config_class(spec.algorithm))
        for field, space in mutations.items():
            where = f"tune.scheduler.{mutations_key}.{field}"
            if field not in fields:
                raise SpecError(file, where, f"{spec.algorithm} config has no field '{field}'", _closest(field, fields))
            if kind == "pb2":
                if not (isinstance(space, list) and len(space) == 2 and space[0] < space[1]):
                    raise SpecError(file, where, f"pb2 bounds must be [low, high] (got {space!r})", "write [low, high]")
            elif isinstance(space, list):
                if not space:
                    raise SpecError(file, where, "empty list of values", "give at least one value")
            elif is_search_space(space) and next(iter(space)) != "grid_search":
                _check_search_space(file, where, space)
            else:
                raise SpecError(file, where, f"not a mutation space: {space!r}",
                                "give a list of values or {choice|uniform|loguniform|randint: ...}")
        if spec.checkpoint.every <= 0:
            raise SpecError(file, "checkpoint.every", f"{kind} exploits checkpoints but checkpoint.every is 0",
                            "set checkpoint.every to the perturbation interval or a divisor of it")
        if spec.checkpoint.keep is not None:
            # A donor trial's deleted checkpoint makes the exploit step fail (Ray 2.60).
            raise SpecError(file, "checkpoint.keep", f"{kind} needs every trial's checkpoints kept",
                            "remove checkpoint.keep (or set it to null)")
    if kind == "asha":
        _check_asha_rungs(file, scheduler)
    _build_scheduler(file, spec, kind, scheduler)


def _check_asha_rungs(file: Path, args: dict) -> None:
    """ASHA allocates its rungs when built: refuse a count that would not fit before building it."""
    max_t, grace, factor, brackets = (args.get(name, default) for name, default in
                                      (("max_t", 100), ("grace_period", 1), ("reduction_factor", 4), ("brackets", 1)))
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (max_t, grace, factor, brackets))
    if not numbers or not (max_t >= grace > 0 and factor > 1 and brackets > 0):
        return  # ASHA itself refuses these, in _build_scheduler
    rungs = brackets * (math.log(max_t / grace) / math.log(factor) + 1)
    if not rungs <= MAX_ASHA_RUNGS:
        raise SpecError(file, "tune.scheduler", f"asha would keep {rungs:.3g} rungs",
                        f"keep brackets * log(max_t / grace_period) / log(reduction_factor) under {MAX_ASHA_RUNGS:,}")


def _build_scheduler(file: Path, spec: ExperimentSpec, kind: str, args: dict) -> None:
    """Build the scheduler as the run will, so Tune's own range checks (max_t > 0, reduction_factor
    > 1, perturbation_interval > 0, ...) fail here and not after Ray has started. Tune's messages do
    not always name the argument: the first one that fails on its own is named."""
    from behaviorlab.platform.runner import _scheduler

    def build(options: dict) -> None:
        _scheduler(spec.model_copy(update={"tune": spec.tune.model_copy(update={"scheduler": options})}))

    try:
        build(spec.tune.scheduler)
    except Exception as error:  # Tune raises AssertionError, ValueError, TypeError or TuneError
        needed = {name: value for name, value in spec.tune.scheduler.items()
                  if name in ("type", "hyperparam_mutations", "hyperparam_bounds")}
        key = "tune.scheduler"
        for name in (name for name in args if name not in needed):
            try:
                build({**needed, name: args[name]})
            except Exception:
                key = f"tune.scheduler.{name}"
                break
        detail = " ".join(str(error).split()) or type(error).__name__
        raise SpecError(file, key, f"{kind} rejects its arguments: {detail}",
                        "see the Tune docs of the scheduler for each argument's range") from None


def _check_search(file: Path, spec: ExperimentSpec, config_spaces: list[str]) -> None:
    search = dict(spec.tune.search or {})
    kind = search.pop("type", "random")
    if kind not in SEARCHERS:
        raise SpecError(file, "tune.search.type", f"unknown search {kind!r}", f"use one of: {', '.join(SEARCHERS)}")
    if kind == "random":
        if search:
            raise SpecError(file, f"tune.search.{next(iter(search))}", "random search takes no options",
                            "remove it (use tune.num_samples for the number of samples)")
        return
    try:
        import optuna  # noqa: F401
    except ImportError:
        raise SpecError(file, "tune.search.type", "optuna search needs the optuna package",
                        "pip install 'behaviorlab[optuna]'") from None
    grids = [where for where in config_spaces if where.endswith(".grid_search")]
    if grids:
        raise SpecError(file, grids[0], "optuna cannot search a grid", "use choice: [...] instead of grid_search")
    if len(spec.seeds) > 1:
        raise SpecError(file, "seeds", "optuna search runs one seed per sample", "give a single seed")
    _, params = _signature_params("ray.tune.search.optuna:OptunaSearch")
    for arg in search:
        if arg in _RUNNER_SET_SCHEDULER_ARGS or arg not in params:
            raise SpecError(file, f"tune.search.{arg}", f"optuna search does not take '{arg}' here",
                            _closest(arg, params - _RUNNER_SET_SCHEDULER_ARGS - {"space"}))


def _parse_value(file: Path, key: str, text: str) -> Any:
    """A command-line or environment value typed as the spec's YAML types it (`1e-3` a float, `[0, 1]` a list)."""
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise SpecError(file, key, f"{text!r} is not a YAML value: {problem}",
                        "quote it as YAML, e.g. --set 'config.model_config={fcnet_hiddens: [64, 64]}'") from None


def _apply_overrides(file: Path, raw: dict, overrides: list[str]) -> None:
    """`config.lr=1e-3` sets raw["config"]["lr"] = 0.001, creating the mappings on the way."""
    for item in overrides:
        key, equals, text = item.partition("=")
        parts = key.split(".")
        if not equals or not all(parts):
            raise SpecError(file, f"--set {item}", "not KEY=VALUE", "write e.g. --set config.lr=1e-3 or --set env=Taxi-v3")
        node = raw
        for depth, part in enumerate(parts[:-1], 1):
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(file, f"--set {key}", f"'{'.'.join(parts[:depth])}' is a {type(child).__name__}, "
                                                      "not a mapping", "set the whole value instead")
            node = child
        node[parts[-1]] = _parse_value(file, f"--set {key}", text)


def _interpolate(file: Path, key: str, value: Any) -> Any:
    """Replace ${VAR} / ${VAR:-default} in string values; a value that is one reference is YAML-typed,
    so `lr: ${LR:-3e-4}` is a number."""
    if isinstance(value, dict):
        return {k: _interpolate(file, f"{key}.{k}" if key else str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(file, f"{key}.{i}", v) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def lookup(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is None:
            raise SpecError(file, key, f"environment variable {name} is not set",
                            f"export {name}=... or write ${{{name}:-default}}")
        return default

    text = _ENV_REFERENCE.sub(lookup, value)
    whole = _ENV_REFERENCE.fullmatch(value)
    return _parse_value(file, key, text) if whole and text else text


def _override_key(error: SpecError, overrides: list[str]) -> str | None:
    """The --set key an error is about: the key itself, a key inside it, or the mapping it sits in."""
    for item in overrides:
        key = item.partition("=")[0]
        if error.key == key or error.key.startswith(f"{key}.") or key.startswith(f"{error.key}."):
            return key
    return None


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> ExperimentSpec:
    """Read and fully validate a spec file with its `--set KEY=VALUE` overrides applied and ${VAR}
    references replaced; raises SpecError (nothing is started or written). An error about an
    overridden key names it as `--set KEY`."""
    overrides = list(overrides)
    try:
        return _load_spec(Path(path), overrides)
    except SpecError as error:
        key = None if error.key.startswith("--set ") else _override_key(error, overrides)
        if key is None:
            raise
        # Name the more precise of the two: `--set config.lr` for RLlib's complaint about `config`.
        raise SpecError(error.file, f"--set {max(key, error.key, key=len)}", error.problem, error.fix) from None


def _load_spec(file: Path, overrides: list[str]) -> ExperimentSpec:
    try:
        with file.open("rb") as stream:
            data = stream.read(MAX_SPEC_BYTES + 1)
    except OSError as error:
        raise SpecError(file, "(file)", f"cannot read: {error.strerror or error}", "check the path") from None
    if len(data) > MAX_SPEC_BYTES:
        raise SpecError(file, "(file)", f"larger than {MAX_SPEC_BYTES >> 20} MiB",
                        "a spec is a few KB of YAML; check the path")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        line = data[:error.start].count(b"\n") + 1
        raise SpecError(file, f"line {line}",
                        f"not UTF-8 text (byte 0x{data[error.start]:02x})", "save the file as UTF-8") from None
    try:
        raw = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "(file)"
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        if isinstance(error, _YAMLLimitError):
            raise SpecError(file, where, problem, error.fix) from None
        raise SpecError(file, where, f"YAML syntax error: {problem}", "fix the YAML at that line") from None
    if not isinstance(raw, dict):
        raise SpecError(file, "(top level)", "the file is not a mapping of keys",
                        "start from an example in experiments/ (algorithm:, env:, stop:, ...)")
    original = yaml.safe_dump(raw, sort_keys=False)
    _apply_overrides(file, raw, overrides)
    raw = _interpolate(file, "", raw)
    effective = yaml.safe_dump(raw, sort_keys=False)
    raw.setdefault("name", file.stem)
    if raw.get("stop") == {}:
        raise SpecError(file, "stop", "no stop condition", "add at least one, e.g. stop: {env_steps: 100000}")
    try:
        spec = ExperimentSpec.model_validate(raw)
    except ValidationError as error:
        raise _pydantic_error(file, error) from None
    if ":" not in spec.algorithm and spec.algorithm not in ALGORITHMS:
        raise SpecError(file, "algorithm", f"unknown algorithm '{spec.algorithm}'",
                        f"{_closest(spec.algorithm, ALGORITHMS)} (or an AlgorithmConfig subclass as module:Class)")
    try:
        algorithm_config_class(spec.algorithm)
    except AlgorithmError as error:
        problem, _, fix = str(error).partition("; ")
        raise SpecError(file, "algorithm", problem, fix) from None
    if effective != original:
        spec._effective_yaml = effective
    spec._overrides = tuple(overrides)

    _check_env(file, spec)
    _check_stop(file, spec)
    _check_wandb(file, spec)
    _check_metric_name(file, "tune.metric", spec.tune.metric)
    if len(set(spec.seeds)) != len(spec.seeds):
        raise SpecError(file, "seeds", f"repeated seeds {spec.seeds}", "list each seed once")
    for seed in spec.seeds:
        if not 0 <= seed <= MAX_SEED:
            raise SpecError(file, "seeds", f"seed {seed} is outside 0..{MAX_SEED}",
                            "use a smaller seed (numpy takes seeds below 2**32 and RLlib adds the runner index)")
    _check_central_inference(file, spec)
    config_spaces = _check_config(file, spec)
    _check_scheduler(file, spec, config_spaces)
    _check_search(file, spec, config_spaces)
    return spec
