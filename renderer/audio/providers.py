"""Feature providers, registered by name (STYLE 9): what turns a track's mastered audio into the
feature timelines the controller reads — and, through the controller's latents and pulse, the
CPPN's inputs (:mod:`renderer.decode.cppn`).

A provider is a function ``(path, *, cache_dir) -> Features`` (:class:`renderer.audio.features.
Features`: ``[T]`` / ``[T, k]`` timelines at one hop, normalised to ``[0, 1]`` per track) and the
optional modules it imports. ``spectral`` (the STFT/HPSS features of
:mod:`renderer.audio.features`) is built in and is what :mod:`renderer.run.prepare` uses.

A learned audio embedding (OpenL3, YAMNet, VGGish, PANNs…) would register here as a second
provider with its package in ``requires``, so that a missing optional install is a clear error
and never an import of the default path. None is registered: no package on PyPI ships such
weights for offline use under a licence this project can take (README, "ML audio embeddings").
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from renderer.audio.features import Features, extract_features
from renderer.errors import ConfigError

Extractor = Callable[..., Features]  # (path, *, cache_dir: Path | None) -> Features


@dataclass(frozen=True)
class FeatureProvider:
    """A named way to compute a track's features; ``requires`` are the modules ``extract``
    imports that a default install may lack, and ``extra`` the pip extra that installs them."""

    name: str
    extract: Extractor
    description: str
    requires: tuple[str, ...] = ()
    extra: str | None = None

    def missing(self) -> list[str]:
        """The modules of ``requires`` that are not installed."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


_PROVIDERS: dict[str, FeatureProvider] = {}


def register_provider(provider: FeatureProvider) -> FeatureProvider:
    """Add ``provider``; a name already taken is a :class:`ValueError` (no silent replacement)."""
    if provider.name in _PROVIDERS:
        raise ValueError(f"feature provider {provider.name!r} is already registered")
    if not provider.name.isidentifier():
        raise ValueError(f"feature provider name {provider.name!r}: use letters, digits and _")
    _PROVIDERS[provider.name] = provider
    return provider


def provider_names() -> list[str]:
    """Registered names, in registration order (``spectral`` first)."""
    return list(_PROVIDERS)


def get_provider(name: str, *, where: str = "feature provider") -> FeatureProvider:
    """The provider ``name``; :class:`ConfigError` naming ``where`` when it is unknown (with the
    valid names) or when its optional modules are not installed (with the extra to install)."""
    provider = _PROVIDERS.get(name)
    if provider is None:
        raise ConfigError(f"{where}: unknown {name!r}; valid: {', '.join(_PROVIDERS)}")
    missing = provider.missing()
    if missing:
        hint = f" (pip install 'noise-to-signal[{provider.extra}]')" if provider.extra else ""
        raise ConfigError(f"{where}: {name!r} needs {', '.join(missing)}, not installed{hint}")
    return provider


def extract(name: str, path: str | Path, *, cache_dir: Path | None) -> Features:
    """Features of the audio file ``path`` by the provider ``name``."""
    return get_provider(name).extract(Path(path), cache_dir=cache_dir)


register_provider(
    FeatureProvider(
        name="spectral",
        extract=extract_features,
        description="RMS, centroid, flatness, onset, HPSS energies, MFCC and chroma "
        "(renderer/audio/features.py)",
    )
)
