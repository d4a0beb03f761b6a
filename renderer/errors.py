"""Exceptions shared by every renderer stage.

Each error message names the file (or config field) and the problem, so a user can fix the input
without reading a traceback.
"""

from __future__ import annotations


class NoiseToSignalError(Exception):
    """Base class for every error this project raises on purpose."""


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
