"""Helpers for Tune result dicts; no Ray import, so reports work without Ray running."""

from __future__ import annotations

from typing import Any


def flatten(result: dict, prefix: str = "") -> dict[str, Any]:
    """Nested result dict → {"group/key": value}, the form Tune uses for stop and metric keys."""
    flat = {}
    for key, value in result.items():
        if isinstance(value, dict):
            flat.update(flatten(value, f"{prefix}{key}/"))
        else:
            flat[f"{prefix}{key}"] = value
    return flat
