"""Audio loading and feature timelines on synthetic signals; caching and bad input."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import SR, click_track, tone, write_wav

from renderer.audio.decode import load_audio
from renderer.audio.features import (
    Features,
    extract_features,
    n_video_frames,
    robust_normalise,
    to_video_frames,
)
from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.errors import AudioError


@pytest.fixture(scope="module")
def mixed_wav(tmp_path_factory):
    """4 s: 2 s quiet low sine, then 2 s of loud noise + clicks (brighter, flatter, louder)."""
    rng = np.random.default_rng(7)
    quiet = tone(220.0, 2.0, amp=0.05)
    noise = 0.3 * rng.standard_normal(2 * SR).astype(np.float32)
    clicks, _ = click_track(120, 2.0)
    y = np.concatenate([quiet, noise + clicks])
    return write_wav(tmp_path_factory.mktemp("a") / "mixed.wav", y)


def test_features_follow_the_signal(mixed_wav, tmp_path):
    f = extract_features(mixed_wav, cache_dir=tmp_path)
    assert isinstance(f, Features) and f.duration == pytest.approx(4.0, abs=1e-3)
    half = f.n_frames // 2
    for name in ("rms", "centroid", "flatness", "percussive"):
        a = getattr(f, name)
        assert a.shape == (f.n_frames,) and a.min() >= 0 and a.max() <= 1
        assert a[half + 5 :].mean() > a[: half - 5].mean(), name
    assert f.mfcc.shape == (f.n_frames, 8) and f.chroma.shape == (f.n_frames, 12)
    # the quiet part is a 220 Hz sine: chroma peaks at A
    assert int(np.argmax(f.chroma[5 : half - 5].mean(axis=0))) == 9
    assert f.frame_rate == pytest.approx(SR / 512)


def test_cache_hit_corrupt_and_stale(mixed_wav, tmp_path):
    first = extract_features(mixed_wav, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    mtime = entry.stat().st_mtime_ns
    again = extract_features(mixed_wav, cache_dir=tmp_path)
    assert entry.stat().st_mtime_ns == mtime  # served from the cache
    np.testing.assert_array_equal(first.rms, again.rms)
    entry.write_bytes(b"garbage")  # corrupt → recomputed, never trusted
    fixed = extract_features(mixed_wav, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.rms, fixed.rms)
    # a different parameter set is a different entry
    extract_features(mixed_wav, cache_dir=tmp_path, n_mfcc=5)
    assert len(list(tmp_path.glob("*.npz"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_stale_cache_with_nan_is_recomputed(mixed_wav, tmp_path):
    f = extract_features(mixed_wav, cache_dir=tmp_path)
    (entry,) = tmp_path.glob("*.npz")
    with np.load(entry) as data:
        arrays = {k: data[k] for k in data.files}
    arrays["rms"] = np.full_like(arrays["rms"], np.nan)
    with open(entry, "wb") as fh:
        np.savez(fh, **arrays)
    g = extract_features(mixed_wav, cache_dir=tmp_path)
    np.testing.assert_array_equal(f.rms, g.rms)


def test_video_frames_length_and_alignment(mixed_wav):
    f = extract_features(mixed_wav, cache_dir=None)
    for fps in (24, 30, 60):
        v = to_video_frames(f, fps=fps)
        assert v.n_frames == round(4.0 * fps) == n_video_frames(f.duration, fps)
        assert v.rms.shape == (v.n_frames,) and v.chroma.shape == (v.n_frames, 12)
        # the loud half starts at frame 2*fps
        assert v.rms[2 * fps + 3 :].mean() > v.rms[: 2 * fps - 3].mean()
    with pytest.raises(ValueError, match="fps"):
        to_video_frames(f, fps=0)


def test_onset_peaks_survive_frame_resampling(tmp_path):
    y, beats = click_track(100, 6.0)
    f = extract_features(write_wav(tmp_path / "c.wav", y), cache_dir=None)
    v = to_video_frames(f, fps=24)
    beat_frames = np.round(beats * 24).astype(int)
    on_beat = np.array([v.onset[max(0, b - 1) : b + 2].max() for b in beat_frames[1:]])
    assert np.median(on_beat) > 3 * np.median(v.onset)
    # … and land on the beat's own frame, not a frame late (onset latency compensated)
    peaks = [b - 2 + int(np.argmax(v.onset[b - 2 : b + 3])) for b in beat_frames[1:-1]]
    assert np.mean(np.array(peaks) == beat_frames[1:-1]) >= 0.8


@pytest.mark.parametrize("fmt", ["flac", "ogg", "mp3"])
def test_formats_channels_and_rates(tmp_path, fmt):
    sr = 44100
    stereo = np.stack([tone(440, 1.0, sr=sr), tone(660, 1.0, sr=sr)])
    wav = write_wav(tmp_path / "s.wav", stereo, sr)
    out = tmp_path / f"s.{fmt}"
    subprocess.run([find_ffmpeg(), "-loglevel", "error", "-i", str(wav), str(out)], check=True)
    y, got_sr = load_audio(out)
    assert got_sr == sr and y.shape[0] == 2 and abs(y.shape[1] - sr) < 0.1 * sr
    mono, msr = load_audio(out, sr=22050, mono=True)
    assert msr == 22050 and mono.shape[0] == 1


def test_ffmpeg_fallback_for_other_containers(tmp_path):
    wav = write_wav(tmp_path / "s.wav", tone(440, 1.0, sr=48000), 48000)
    m4a = tmp_path / "s.m4a"
    subprocess.run(
        [find_ffmpeg(), "-loglevel", "error", "-i", str(wav), "-c:a", "aac", str(m4a)], check=True
    )
    y, sr = load_audio(m4a)
    assert sr == 48000 and y.shape[0] == 1 and y.shape[1] > 40000


def test_silence_is_well_defined(tmp_path):
    path = write_wav(tmp_path / "silence.wav", np.zeros(SR * 2, dtype=np.float32))
    f = extract_features(path, cache_dir=None)
    for name in ("rms", "centroid", "flatness", "onset", "harmonic", "percussive", "chroma"):
        a = getattr(f, name)
        assert np.all(np.isfinite(a)) and np.all(a == 0), name


def test_robust_normalise_constant_input():
    assert np.all(robust_normalise(np.full(10, 3.0)) == 0)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "not found"),
        (lambda p: (p.write_bytes(b""), p)[1], "empty"),
        (lambda p: (sf.write(str(p), np.zeros(1), SR), p)[1], "too short"),
        (
            lambda p: (sf.write(str(p), np.array([0.0, np.nan, 0.1]), SR, subtype="FLOAT"), p)[1],
            "NaN",
        ),
    ],
)
def test_bad_input_names_the_file(tmp_path, make, message):
    path = make(tmp_path / "bad.wav")
    with pytest.raises(AudioError, match=message) as info:
        load_audio(path)
    assert "bad.wav" in str(info.value)


def test_truncated_and_corrupt_mp3(tmp_path):
    wav = write_wav(tmp_path / "s.wav", tone(440, 2.0))
    mp3 = tmp_path / "s.mp3"
    subprocess.run([find_ffmpeg(), "-loglevel", "error", "-i", str(wav), str(mp3)], check=True)
    truncated = tmp_path / "trunc.mp3"
    truncated.write_bytes(mp3.read_bytes()[: mp3.stat().st_size // 2])
    with pytest.raises(AudioError, match=r"trunc.mp3: damaged: only 1\.0 s of the 2\.0 s"):
        load_audio(truncated)  # decoded to its end or refused, never silently cut short
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"ID3" + bytes(range(256)) * 20)
    with pytest.raises(AudioError, match="corrupt.mp3"):
        load_audio(corrupt)
    with pytest.raises(AudioError, match="not found"):
        extract_features(tmp_path / "missing.wav")
