"""Overlaying configs: the user's explicitly written fields laid over defaults, presets and
per-track blocks (the precedence in :mod:`renderer.config.models`). A leaf: it imports nothing
from the project.

"Fields set" means written in the file (pydantic's ``model_fields_set``), so a preset's smoothing
is only replaced where the user wrote a value.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel


def explicit(model: BaseModel) -> dict[str, Any]:
    """Only the fields written by the user, recursively (an overlay for :func:`deep_merge`)."""
    out: dict[str, Any] = {}
    for name in model.model_fields_set:
        value = getattr(model, name)
        out[name] = explicit(value) if isinstance(value, BaseModel) else value
    return out


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``base`` with ``overlay`` applied; nested dicts merge, everything else replaces."""
    merged = dict(base)
    for key, value in overlay.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged
