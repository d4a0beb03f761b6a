"""Stems (renderer/audio/stems.py): found per part, aligned to the mix, substituted at the features
seam; the pulse follows the drum stem; a broken stem falls back to HPSS; the album's composer writes
its stems and the album renders with them and without."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import SR, click_track, midi_hz, triad

from renderer.audio.decode import AudioWarning
from renderer.audio.features import compute_features, extract_features, to_video_frames
from renderer.audio.stems import StemMismatchError, apply_stems, find_stems
from renderer.errors import ConfigError

SECONDS, BPM = 12.0, 120.0
FPS = 30


def _bass_offbeats(seconds: float, *, sr: int = SR) -> tuple[np.ndarray, np.ndarray]:
    """Plucked bass notes with a hard attack on every off-beat eighth: ``(y, onset times)``."""
    n = int(seconds * sr)
    y = np.zeros(n, np.float32)
    times = np.arange(0.25, seconds - 0.3, 60.0 / BPM)
    length = int(0.2 * sr)
    t = np.arange(length) / sr
    rng = np.random.default_rng(7)
    for i, start in enumerate(times):
        f = midi_hz(40 + (0, 5, 7, 3)[i % 4])
        note = np.sign(np.sin(2 * np.pi * f * t)) * np.exp(-t * 18) * 0.5
        note[:200] += 0.6 * rng.standard_normal(200) * np.exp(-np.arange(200) / 40)  # the pick
        a = int(start * sr)
        y[a : a + length] += note[: n - a].astype(np.float32)
    return y, times


@pytest.fixture(scope="module")
def song(tmp_path_factory) -> SimpleNamespace:
    """A mix of kicks on the beats, off-beat bass plucks and a held pad, with its three stems."""
    folder = tmp_path_factory.mktemp("song")
    drums, beats = click_track(BPM, SECONDS, sr=SR, seed=1)
    bass, bass_times = _bass_offbeats(SECONDS)
    pad = triad("A", True, SECONDS)[: len(drums)]
    mix = drums + bass + pad
    sf.write(str(folder / "mix.wav"), np.stack([mix, mix]).T, SR)
    stems = folder / "stems"
    stems.mkdir()
    for name, y in (("Drums", drums), ("bass", bass), ("other", pad)):
        sf.write(str(stems / f"{name}.wav"), y, SR)
    return SimpleNamespace(folder=folder, mix=folder / "mix.wav", stems=stems, beats=beats,
                           bass_times=bass_times)  # fmt: skip


def test_find_stems_by_part_name(song, tmp_path) -> None:
    found = find_stems(song.stems)
    assert sorted(found) == ["bass", "drums", "other"] and found["drums"].name == "Drums.wav"
    assert find_stems(tmp_path / "nowhere") == {} and find_stems(None) == {}
    (tmp_path / "drums.wav").write_bytes(b"x")
    (tmp_path / "drums.flac").write_bytes(b"x")
    (tmp_path / "notes.txt").write_text("not a stem")
    with pytest.raises(ConfigError, match="two files for the drums stem"):
        find_stems(tmp_path)


def _reference(times: np.ndarray, n: int) -> np.ndarray:
    """A decaying pulse at each of ``times`` (s), at ``FPS``: what "follows" them looks like."""
    ref = np.zeros(n)
    ref[np.clip(np.round(times * FPS).astype(int), 0, n - 1)] = 1.0
    kernel = np.exp(-np.arange(8) / 2.5)
    return np.convolve(ref, kernel)[:n]


def test_pulse_follows_the_drum_stem_not_the_bass(song) -> None:
    from renderer.config.models import ControllerSettings
    from renderer.control.controller import pulse_signal

    mix = extract_features(song.mix, cache_dir=None)
    with_stems = apply_stems(mix, find_stems(song.stems), src=song.mix)
    assert with_stems.stems == ("bass", "drums", "other") and mix.stems == ()
    analysis = SimpleNamespace(tempo=BPM, beats=song.beats, sections=[])
    # the beat grid would drive the pulse with and without stems alike: follow the onsets only
    settings = ControllerSettings.model_validate({"tempo_sync": {"enabled": False}})
    onsets, pulses = {}, {}
    for name, features in (("hpss", mix), ("stems", with_stems)):
        frames = to_video_frames(features, fps=FPS)
        onsets[name] = frames.onset
        pulses[name] = pulse_signal(frames, analysis, settings, fps=FPS)
    n = len(pulses["hpss"])
    drums, bass = _reference(song.beats, n), _reference(song.bass_times, n)

    def r(x: np.ndarray) -> tuple[float, float]:
        return float(np.corrcoef(x, drums)[0, 1]), float(np.corrcoef(x, bass)[0, 1])

    seam = {k: r(v) for k, v in onsets.items()}
    pulse = {k: r(v) for k, v in pulses.items()}
    # at the seam: the mix's onsets carry the bass plucks, the drum stem's do not
    assert seam["stems"][0] > seam["hpss"][0] + 0.2 and seam["stems"][1] < seam["hpss"][1] - 0.2
    # and the controller's pulse, unchanged code, follows them (measured 0.92 vs 0.87 with the
    # drum hits, -0.39 vs -0.17 with the bass plucks)
    assert pulse["stems"][0] > pulse["hpss"][0] + 0.02, pulse
    assert pulse["stems"][1] < pulse["hpss"][1] - 0.1, pulse
    # colour from the harmonic stem: the pad's A minor triad, without the bass line's notes
    chroma = with_stems.chroma[with_stems.chroma.sum(axis=1) > 0].mean(axis=0)
    assert set(np.argsort(chroma)[-3:]) == {9, 0, 4}


def test_stems_are_resampled_padded_and_trimmed_like_the_mix(song, tmp_path) -> None:
    import librosa

    y, _ = sf.read(str(song.stems / "Drums.wav"), dtype="float32")
    folder = tmp_path / "stems"
    folder.mkdir()
    # another rate, 0.2 s short: resampled and padded to the mix
    short = librosa.resample(y, orig_sr=SR, target_sr=44100)[: -int(0.2 * 44100)]
    sf.write(str(folder / "drums.flac"), short, 44100)
    mix = extract_features(song.mix, cache_dir=None)
    out = apply_stems(mix, find_stems(folder), src=song.mix, cache_dir=tmp_path / "cache")
    assert out.stems == ("drums",) and out.onset.shape == mix.onset.shape
    assert np.array_equal(out.rms, mix.rms) and np.array_equal(out.chroma, mix.chroma)
    again = apply_stems(mix, find_stems(folder), src=song.mix, cache_dir=tmp_path / "cache")
    assert np.array_equal(again.onset, out.onset)  # from the cache
    # a trimmed mix (2 s .. 8 s): the stem is cut at the same samples
    trimmed = compute_features(mix_trim := _load_mono(song.mix)[2 * SR : 8 * SR], sr=SR)
    mixf = _features_like(mix, trimmed, seconds=len(mix_trim) / SR)
    cut = apply_stems(mixf, find_stems(song.stems), src=song.mix, trim_start=2.0, trim_end=8.0)
    direct = compute_features(_load_mono(song.stems / "Drums.wav")[2 * SR : 8 * SR], sr=SR)
    assert np.allclose(cut.onset, direct["onset"], atol=1e-5)


def _load_mono(path: Path) -> np.ndarray:
    y, _ = sf.read(str(path), dtype="float32", always_2d=True)
    return y.mean(axis=1)


def _features_like(template, arrays: dict, *, seconds: float):
    from dataclasses import replace

    return replace(template, duration=seconds, **arrays)


def test_a_stem_of_another_length_is_an_error_naming_it(song, tmp_path) -> None:
    folder = tmp_path / "stems"
    folder.mkdir()
    y, _ = sf.read(str(song.stems / "bass.wav"), dtype="float32")
    sf.write(str(folder / "bass.wav"), y[: len(y) // 2], SR)
    mix = extract_features(song.mix, cache_dir=None)
    with pytest.raises(StemMismatchError, match=r"bass\.wav: the stem is 6\.00 s long, its mix 12"):
        apply_stems(mix, find_stems(folder), src=song.mix)


def test_a_broken_stem_falls_back_to_hpss_with_a_warning(song, tmp_path) -> None:
    folder = tmp_path / "stems"
    shutil.copytree(song.stems, folder)
    (folder / "Drums.wav").write_bytes(b"RIFF\x00\x00not audio at all")
    mix = extract_features(song.mix, cache_dir=None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AudioWarning)
        out = apply_stems(mix, find_stems(folder), src=song.mix)
    notes = [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
    assert len(notes) == 1 and "Drums.wav" in notes[0] and "HPSS split stands in" in notes[0]
    assert out.stems == ("bass", "other")
    assert np.array_equal(out.onset, mix.onset) and np.array_equal(out.percussive, mix.percussive)
    assert not np.array_equal(out.rms, mix.rms)


# ------------------------------------------------------------------------ the album, end to end
@pytest.fixture(scope="module")
def composed(tmp_path_factory) -> Path:
    """The bundled album's first track, 4 s, composed with its stems."""
    from album.compose import compose_album

    out = tmp_path_factory.mktemp("composed") / "album"
    compose_album(out=out, tracks=["opening"], seconds_limit=4.0, stems=True)
    return out


def test_composer_writes_stems_as_long_as_the_mix(composed) -> None:
    from album.encode import read_mp3

    mix = read_mp3(composed / "01-opening.mp3")
    files = sorted(p.name for p in (composed / "stems" / "opening").iterdir())
    assert files == ["bass.flac", "drums.flac", "other.flac"]
    for name in files:
        data, sr = sf.read(str(composed / "stems" / "opening" / name), always_2d=True)
        assert sr == 48000 and data.shape == (mix.shape[1], 2)
    drums, _ = sf.read(str(composed / "stems" / "opening" / "drums.flac"))
    assert np.sqrt(np.mean(drums**2)) > 0.01  # the intro's kick is playing


def _album_config(root: Path, album: Path, model_dir: Path, *, stems: str) -> Path:
    shutil.copytree(album, root / "album")
    shutil.copytree(model_dir, root / "models")
    config = root / "render.yaml"
    config.write_text("frame_rate: 24\nresolution: [96, 64]\nseed: 3\nrender: {chunk_seconds: 2}\n"
                      f"tracks:\n  - id: opening\n    preset: pulse\n{stems}")  # fmt: skip
    return config


def test_album_renders_with_its_stems_and_without(composed, tmp_path, tiny_model_dir,
                                                  monkeypatch) -> None:  # fmt: skip
    from render_fixtures import read_meta

    from renderer.render_album import main as album_main

    metas = {}
    for name, stems in (("with", ""), ("without", "    stems: false\n")):
        root = tmp_path / name
        root.mkdir()
        config = _album_config(root, composed, tiny_model_dir, stems=stems)
        monkeypatch.chdir(root)
        assert album_main(["--config", str(config), "--quality", "draft"]) == 0
        metas[name] = read_meta(config)
    (track_with,), (track_without,) = metas["with"]["tracks"], metas["without"]["tracks"]
    assert track_with["ok"] and track_without["ok"]
    assert track_with["stems"].endswith("album/stems/opening") and track_without["stems"] is None
    assert track_with["frames"] == track_without["frames"] == 4 * 24
    hashes = [json.dumps(t["chunks"]) for t in (track_with, track_without)]
    assert hashes[0] != hashes[1]  # the stems drove the picture

    # --resume reuses the finished track while its stems are the same, and renders it again
    # once a stem file changes (the stems' bytes are part of what the track was made from)
    monkeypatch.chdir(tmp_path / "with")
    config = tmp_path / "with" / "render.yaml"
    assert album_main(["--config", str(config), "--quality", "draft", "--resume"]) == 0
    (again,) = read_meta(config)["tracks"]
    assert again["chunks_rendered"] == 0 and again["chunks"] == track_with["chunks"]
    stems = tmp_path / "with" / "album" / "stems" / "opening"
    drums, bass = next(stems.glob("drums.*")), next(stems.glob("bass.*"))
    drums.write_bytes(bass.read_bytes())  # same length and format, other content
    assert album_main(["--config", str(config), "--quality", "draft", "--resume"]) == 0
    (changed,) = read_meta(config)["tracks"]
    assert changed["ok"] and changed["chunks_rendered"] > 0
    assert changed["chunks"] != track_with["chunks"]


def test_track_stems_folder_must_exist(tmp_path) -> None:
    from renderer.config.models import RenderConfig
    from renderer.config.tracklist import TrackSpec, resolve_track

    config = RenderConfig.model_validate(
        {"album": {"root": str(tmp_path)}, "tracks": [{"id": "a", "stems": "nope"}]}
    )
    with pytest.raises(ConfigError, match=r"tracks\.a\.stems: .*nope is not a folder"):
        resolve_track(config, TrackSpec(id="a", src=tmp_path / "a.wav"))
    (tmp_path / "stems" / "a").mkdir(parents=True)
    default = RenderConfig.model_validate({"album": {"root": str(tmp_path)}})
    assert resolve_track(default, TrackSpec(id="a", src=tmp_path / "a.wav")).stems == (
        tmp_path / "stems" / "a"
    )
