"""Reading config files safely: a size cap, UTF-8, ``yaml.safe_load`` with a cap on the values
that YAML aliases expand to, and errors naming the file (never echoing the whole input)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from renderer.config.messages import clip_value
from renderer.errors import ConfigError

MAX_CONFIG_BYTES = 1 << 20  # a render.yaml or preset is a few kB; refuse anything over 1 MiB
MAX_CONFIG_VALUES = 100_000  # values after YAML aliases are expanded (an alias bomb has billions)


def check_size(data: Any, *, source: Path | str, limit: int = MAX_CONFIG_VALUES) -> None:
    """:class:`ConfigError` when ``data`` holds more than ``limit`` values counted with
    repetition: YAML aliases share objects, so a few hundred bytes can stand for billions of
    values that validation would walk. Stops counting at the limit."""
    count, stack = 0, [data]
    while stack:
        item = stack.pop()
        count += 1
        if count > limit:
            raise ConfigError(f"{source}: more than {limit:,} values once YAML aliases are "
                              "expanded; refusing it (an alias bomb?)")  # fmt: skip
        if isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list | tuple):
            stack.extend(item)


def read_text_capped(path: Path, *, what: str, limit: int = MAX_CONFIG_BYTES) -> str:
    """The file's text, or :class:`ConfigError` naming it when missing or over ``limit`` bytes."""
    try:
        size = path.stat().st_size
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: {what} not found") from exc
    if path.is_dir():
        raise ConfigError(f"{path}: is a folder; expected a {what} file")
    if size > limit:
        raise ConfigError(f"{path}: {size:,} bytes; a {what} is limited to {limit:,} bytes")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from exc
    nul = data.find(b"\x00")
    if nul >= 0:  # UTF-8 text never holds NUL; an image, archive or UTF-16 file does
        raise ConfigError(f"{path}: a binary file (NUL byte at {nul}), not a UTF-8 text {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); "
                          f"a {what} must be UTF-8") from exc  # fmt: skip


def read_yaml(path: Path) -> dict[str, Any]:
    """``yaml.safe_load`` of a mapping; :class:`ConfigError` naming the file otherwise."""
    text = read_text_capped(path, what="config file")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({clip_value(str(exc), 400)})") from exc
    check_size(data, source=path)
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(data).__name__}")
    return data
