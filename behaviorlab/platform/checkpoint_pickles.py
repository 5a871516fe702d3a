"""Load RLlib module checkpoints that a user names without running code from them.

RLlib writes a module checkpoint's constructor arguments (`class_and_ctor_args.pkl`) and weights
(`module_state.pkl`) with cloudpickle, and unpickling can call any importable function. A checkpoint
named on the command line or in a spec may come from anyone, so it loads through an unpickler that
builds only what such a checkpoint holds: RLModule, spec, catalog and gymnasium-space classes of
RLlib, behaviorlab and gymnasium, numpy arrays, dtypes, scalars and random-generator state, and
builtin containers. Anything else (a function, a class pickled by value, an `os` attribute) is
refused with its name; `trusted=True` (the CLI's `--trust-checkpoint`) loads it as RLlib does.
Written here because RLlib has no such loader and torch's `weights_only` reads torch files only.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import pickle
import types
from collections.abc import Iterator

TRUST_HINT = "load it with --trust-checkpoint (eval, data collect, rank) only if you trust where it came from"

# Functions (not classes) a module checkpoint's pickles call: numpy's array, scalar and RNG rebuilders.
ALLOWED_FUNCTIONS = frozenset({
    ("collections", "OrderedDict"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "slice"), ("builtins", "complex"),
    ("builtins", "bytearray"),
    *((numpy_core, name) for numpy_core in ("numpy._core.numeric", "numpy.core.numeric") for name in ("_frombuffer",)),
    *((numpy_core, name) for numpy_core in ("numpy._core.multiarray", "numpy.core.multiarray")
      for name in ("_reconstruct", "scalar")),
    ("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
    ("numpy.random._pickle", "__randomstate_ctor"), ("numpy.random.bit_generator", "__pyx_unpickle_SeedSequence"),
})
# Where module, catalog and space classes live. Importing a module by a pickle's say-so runs that
# module, so scripts (`__main__`, examples, tests) under these packages are not imported.
TRUSTED_PACKAGES = ("ray.rllib.algorithms", "ray.rllib.core", "behaviorlab.algorithms", "gymnasium.spaces", "numpy")
SCRIPT_PARTS = frozenset({"__main__", "examples", "tuned_examples", "tests", "benchmarks"})


class UntrustedCheckpoint(pickle.UnpicklingError):
    """Not one of RLlib's `(ValueError, AttributeError, ImportError, TypeError)`, on which
    `from_checkpoint` would fall back to a default class instead of failing."""


def _allowed_bases() -> tuple[type, ...]:
    import gymnasium
    import numpy as np
    from ray.rllib.core.models.catalog import Catalog
    from ray.rllib.core.rl_module.default_model_config import DefaultModelConfig
    from ray.rllib.core.rl_module.multi_rl_module import MultiRLModuleSpec
    from ray.rllib.core.rl_module.rl_module import RLModule, RLModuleSpec

    return (RLModule, RLModuleSpec, MultiRLModuleSpec, Catalog, DefaultModelConfig, gymnasium.spaces.Space,
            np.ndarray, np.dtype, np.generic, np.random.BitGenerator, np.random.Generator,
            np.random.SeedSequence, np.random.RandomState)


class CheckpointUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED_FUNCTIONS:
            return super().find_class(module, name)
        # A dotted name would walk attributes (e.g. a trusted module's `os.system`).
        if "." not in name and not SCRIPT_PARTS & set(module.split(".")) and any(
                module == package or module.startswith(package + ".") for package in TRUSTED_PACKAGES):
            try:
                found = getattr(importlib.import_module(module), name, None)
            except ImportError as error:  # RLlib would fall back to a default class on an ImportError
                raise UntrustedCheckpoint(f"it pickles {module}.{name}, which cannot be imported here "
                                          f"({error})") from None
            if isinstance(found, type) and issubclass(found, _allowed_bases()):
                return found
        raise UntrustedCheckpoint(f"it pickles {module}.{name}, which is not part of an RLlib module checkpoint "
                                  f"and would run code while loading; {TRUST_HINT}")


def restricted_load(file) -> object:
    """`pickle.load` that builds only what an RLlib module checkpoint holds (module docstring)."""
    return CheckpointUnpickler(file).load()


def restricted_loads(data: bytes) -> object:
    return restricted_load(io.BytesIO(data))


@contextlib.contextmanager
def checkpoint_pickles(trusted: bool = False) -> Iterator[None]:
    """Within it, RLlib's checkpoint reader (`Checkpointable.from_checkpoint` / `restore_from_path`)
    unpickles through `restricted_load` unless `trusted`."""
    from ray.rllib.utils import checkpoints

    if trusted:
        yield
        return
    original = checkpoints.pickle
    checkpoints.pickle = types.SimpleNamespace(load=restricted_load, loads=restricted_loads, dump=original.dump,
                                               dumps=original.dumps)
    try:
        yield
    finally:
        checkpoints.pickle = original
