"""The feature-provider registry: ``spectral`` built in and used by the render, unknown names and
missing optional packages as errors that name the field and what to install."""

from __future__ import annotations

import numpy as np
import pytest
from audio_fixtures import click_track, write_wav

from renderer.audio import providers
from renderer.audio.features import extract_features
from renderer.errors import ConfigError


def test_spectral_is_built_in_and_gives_the_features_of_extract_features(tmp_path):
    assert providers.provider_names()[0] == "spectral"
    y, _ = click_track(100, 2.0, seed=2)
    path = write_wav(tmp_path / "a.wav", y)
    got = providers.extract("spectral", path, cache_dir=None)
    want = extract_features(path, cache_dir=None)
    assert got.sha256 == want.sha256 and got.n_frames == want.n_frames > 0
    for name in ("rms", "onset", "percussive", "chroma", "mfcc"):
        assert np.array_equal(getattr(got, name), getattr(want, name)), name


def test_unknown_names_and_missing_packages_are_errors_that_say_what_to_do(monkeypatch):
    with pytest.raises(
        ConfigError, match=r"tracks\.a\.features: unknown 'yamnet'; valid: spectral"
    ):
        providers.get_provider("yamnet", where="tracks.a.features")
    monkeypatch.setattr(providers, "_PROVIDERS", dict(providers._PROVIDERS))
    fake = providers.FeatureProvider("embedding_test", extract=extract_features,
                                     description="test", requires=("no_such_module_xyz",),
                                     extra="embeddings")  # fmt: skip
    providers.register_provider(fake)
    assert providers.provider_names() == ["spectral", "embedding_test"]
    with pytest.raises(ConfigError, match=r"needs no_such_module_xyz, not installed \(pip "
                                          r"install 'noise-to-signal\[embeddings\]'\)"):  # fmt: skip
        providers.get_provider("embedding_test")
    with pytest.raises(ValueError, match="already registered"):
        providers.register_provider(fake)
    with pytest.raises(ValueError, match="use letters"):
        providers.register_provider(providers.FeatureProvider("a-b", extract_features, "x"))
