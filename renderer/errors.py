"""Exceptions shared by every renderer stage.

Each error message names the file (or config field) and the problem, so a user can fix the input
without reading a traceback.
"""

from __future__ import annotations

MAX_LINE = 500  # characters per line of a message: a hostile input is never echoed whole
MAX_LINES = 20


class NoiseToSignalError(Exception):
    """Base class for every error this project raises on purpose.

    Its text is clipped to :data:`MAX_LINES` lines of :data:`MAX_LINE` characters, so a message
    quoting a rejected value stays short whatever that value was.
    """

    def __str__(self) -> str:
        lines = super().__str__().splitlines() or [""]
        out = [ln if len(ln) <= MAX_LINE else ln[: MAX_LINE - 1] + "…" for ln in lines[:MAX_LINES]]
        if len(lines) > MAX_LINES:
            out.append(f"… and {len(lines) - MAX_LINES} more line(s)")
        return "\n".join(out)


class AudioError(NoiseToSignalError):
    """An audio file is missing, unreadable, corrupt or otherwise unusable."""


class ConfigError(NoiseToSignalError):
    """A config file, preset or tracklist is invalid (the message names the file and field)."""


class ModelError(NoiseToSignalError):
    """Model artefacts are missing, corrupt or do not match their recorded hashes."""


class FFmpegError(NoiseToSignalError):
    """FFmpeg is missing, too old, or exited with an error (the message carries its stderr tail)."""


class RenderError(NoiseToSignalError):
    """A track failed to render."""
