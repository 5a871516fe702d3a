"""A run's wandb settings, resolved as wandb itself resolves them: WANDB_MODE, WANDB_PROJECT,
WANDB_ENTITY and WANDB_DIR from the environment win over the spec's `logging.wandb`; the mode, when
neither says, is online where an API key is configured (WANDB_API_KEY or `wandb login`'s ~/.netrc)
and offline otherwise; online without a key falls back to offline, so a run never blocks on a login
prompt. No Ray or wandb import: the runner and the spec check both use it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# WANDB_MODE values → the mode they mean (wandb's own aliases included).
MODES = {"online": "online", "offline": "offline", "disabled": "disabled", "run": "online", "dryrun": "offline"}


class WandbSettingsError(ValueError):
    """An environment value wandb would not accept; the message is `problem; fix`."""


@dataclass(frozen=True)
class WandbSettings:
    mode: str                  # online | offline | disabled
    project: str
    entity: str | None = None
    dir: str | None = None     # absolute; None: each trial's directory
    tags: tuple[str, ...] = ()
    group: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # wandb.Settings fields

    def init_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of wandb.init besides the project and group (Ray's logger takes those)."""
        kwargs: dict[str, Any] = {"mode": self.mode}
        if self.entity:
            kwargs["entity"] = self.entity
        if self.dir:
            kwargs["dir"] = self.dir
        if self.tags:
            kwargs["tags"] = list(self.tags)
        if self.settings:
            kwargs["settings"] = dict(self.settings)
        return kwargs

    def offline_runs(self, experiment_dir: str) -> str:
        """Where the offline runs are, as a glob for `wandb sync`."""
        return f"{self.dir}/wandb/offline-run-*" if self.dir else f"{experiment_dir}/*/wandb/offline-run-*"


def key_configured(environ: Mapping[str, str] = os.environ, netrc: Path | None = None) -> bool:
    """WANDB_API_KEY is set, or `wandb login` stored a key in ~/.netrc."""
    netrc = netrc if netrc is not None else Path("~/.netrc").expanduser()
    return bool(environ.get("WANDB_API_KEY")) or (netrc.is_file() and "api.wandb.ai" in netrc.read_text())


def resolve(spec_wandb, default_group: str, environ: Mapping[str, str] = os.environ,
            has_key: bool | None = None) -> WandbSettings:
    """The settings a run uses: `spec_wandb` is the spec's `logging.wandb` (mode None: not given)."""
    has_key = key_configured(environ) if has_key is None else has_key
    requested = environ.get("WANDB_MODE") or spec_wandb.mode or ("online" if has_key else "offline")
    mode = MODES.get(requested.strip().lower())
    if mode is None:
        raise WandbSettingsError(f"WANDB_MODE={requested!r} is not a wandb mode; "
                                 "set it to online, offline or disabled, or unset it")
    if mode == "online" and not has_key:
        mode = "offline"
    directory = environ.get("WANDB_DIR")
    return WandbSettings(
        mode=mode, project=environ.get("WANDB_PROJECT") or spec_wandb.project,
        entity=environ.get("WANDB_ENTITY") or spec_wandb.entity,
        # Absolute: Ray's logging actor runs wandb from inside the trial directory.
        dir=str(Path(directory).expanduser().resolve()) if directory else None,
        tags=tuple(spec_wandb.tags), group=spec_wandb.group or default_group, settings=dict(spec_wandb.settings))
