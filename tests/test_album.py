"""The bundled album: deterministic rendering, musical structure, tracklist ground truth, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from album import synth
from album.arrange import bars_of, chord_tones
from album.art import cover
from album.compose import ALBUM_DIR, main, pcm_sha256, render_track, track_entry
from album.encode import read_mp3, write_mp3
from album.mix import limit, true_peak
from album.songs import ORDER, SONGS

SR = 48_000
KEYS = {"id", "src", "title", "artist", "bpm", "key", "markers", "sections", "first_beat",
        "duration", "art"}  # fmt: skip


def _rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-20))


@pytest.fixture(scope="module")
def opening_36s() -> np.ndarray:
    """Intro (0–16 s), build (16–32 s) and the start of the drop of "opening"."""
    return render_track("opening", seconds_limit=36.0)


def test_render_is_deterministic_stereo_48k() -> None:
    a = render_track("interference", seconds_limit=3.0)
    b = render_track("interference", seconds_limit=3.0)
    assert a.shape == (2, 3 * SR) and a.dtype == np.float32
    assert pcm_sha256(a) == pcm_sha256(b)
    assert _rms_db(a) > -60  # the lead-in pad swell is sounding, not silence


def test_excerpt_is_finite_unclipped_and_the_drop_is_louder(opening_36s: np.ndarray) -> None:
    x = opening_36s
    assert np.all(np.isfinite(x))
    assert np.max(np.abs(x)) < 10 ** (-1.0 / 20)
    assert true_peak(x) < -1.0
    intro, build, drop = (x[:, int(a * SR) : int(b * SR)] for a, b in ((0, 16), (16, 32), (32, 36)))
    assert _rms_db(drop) > _rms_db(build) + 0.5
    assert _rms_db(drop) > _rms_db(intro) + 3.0
    # Track 1 starts on a downbeat at t = 0: the first kick is in the first 10 ms.
    assert np.max(np.abs(x[:, : SR // 100])) > 0.05


def test_music_is_in_the_tracklist_key() -> None:
    for song in SONGS.values():
        bars = bars_of(song)
        tonic_bars = sum(b.chord == (0, "m") for b in bars)
        assert tonic_bars >= len(bars) // 3
        dominant = [b for b in bars if b.chord[0] == 7]
        # The harmonic-minor V: a major chord whose third is the leading tone (a semitone below).
        assert dominant and all(b.chord[1] == "M" for b in dominant)
        assert (chord_tones((7, "M"), base=0, count=2)[1] - 12) % 12 == 11


def test_tracklist_matches_the_album(repo_root: Path) -> None:
    from renderer.config.tracklist import load_tracklist

    path = ALBUM_DIR / "tracklist.json"
    entries = json.loads(path.read_text())
    assert [e["id"] for e in entries] == list(ORDER)
    total = 0.0
    for number, entry in enumerate(entries, start=1):
        assert set(entry) == KEYS
        song = SONGS[entry["id"]]
        # Written from the same score that renders the audio.
        assert entry == track_entry(song, number=number, duration=entry["duration"])
        assert entry["artist"] == "noise-to-signal" and entry["bpm"] > 0
        assert entry["key"].endswith("m")
        markers = entry["markers"]
        assert markers == sorted(markers) and 0 < markers[0] and markers[-1] < entry["duration"]
        starts = [s["start"] for s in entry["sections"]]
        assert starts[0] == 0.0 and starts[1:] == markers
        assert [s["end"] for s in entry["sections"][:-1]] == markers
        for m in markers:  # every marker is a downbeat
            bars = (m - entry["first_beat"]) / song.bar_seconds
            assert abs(bars - round(bars)) < 1e-3
        decoded = read_mp3(ALBUM_DIR / entry["src"])
        assert abs(decoded.shape[1] / SR - entry["duration"]) < 0.1
        art = ALBUM_DIR / entry["art"]
        assert art.is_file()
        total += entry["duration"]
    assert 240 <= total <= 360
    specs = load_tracklist(path)
    assert [s.bpm for s in specs] == [SONGS[i].bpm for i in ORDER]


def test_mp3_round_trip_keeps_sample_timing(tmp_path: Path) -> None:
    """LAME's encoder delay is trimmed by FFmpeg and libsndfile alike: a click stays in place."""
    pcm = np.zeros((2, SR), dtype=np.float32)
    pcm[:, 24_000] = 0.8
    path = tmp_path / "click.mp3"
    write_mp3(path, pcm)
    by_ffmpeg = read_mp3(path)
    by_sndfile, sr = sf.read(path, always_2d=True, dtype="float32")
    assert sr == SR and by_ffmpeg.shape == pcm.shape and by_sndfile.shape == (SR, 2)
    assert abs(int(np.argmax(np.abs(by_ffmpeg[0]))) - 24_000) <= 2
    assert abs(int(np.argmax(np.abs(by_sndfile[:, 0]))) - 24_000) <= 2


def test_cli_writes_a_short_album(tmp_path: Path) -> None:
    argv = ["--out", str(tmp_path), "--tracks", "signal", "--seconds-limit", "1.5", "--stems"]
    assert main(argv) == 0
    entries = json.loads((tmp_path / "tracklist.json").read_text())
    assert len(entries) == 1 and entries[0]["src"] == "03-signal.mp3"
    assert entries[0]["markers"] == [] and entries[0]["sections"][0]["end"] == 1.5
    decoded = read_mp3(tmp_path / "03-signal.mp3")
    assert decoded.shape == (2, int(1.5 * SR))
    assert (tmp_path / "art" / "signal.png").stat().st_size > 1000
    stems = sorted((tmp_path / "stems" / "signal").iterdir())
    assert [p.name for p in stems] == ["bass.flac", "drums.flac", "other.flac"]
    assert all(sf.info(str(p)).frames == int(1.5 * SR) for p in stems)


@pytest.mark.parametrize(
    "argv",
    [["--tracks", "nope"], ["--seconds-limit", "0"], ["--tracks", ","]],
)
def test_cli_rejects_bad_arguments(argv: list[str], tmp_path: Path) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), *argv])


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown track id 'nope'"):
        render_track("nope")
    with pytest.raises(ValueError, match=r"shape \[2, n\]"):
        write_mp3(tmp_path / "x.mp3", np.zeros(10, dtype=np.float32))
    with pytest.raises(ValueError, match="biquad kind"):
        synth.biquad("notch", cutoff=100.0)
    from renderer.errors import FFmpegError

    (tmp_path / "bad.mp3").write_bytes(b"not audio")
    with pytest.raises(FFmpegError, match="bad.mp3"):
        read_mp3(tmp_path / "bad.mp3")


def test_oscillators_filters_and_envelopes() -> None:
    n = SR // 2
    f = np.full(n, 1000.0)
    for wave in (synth.saw(f), synth.square(f), synth.sine(f)):
        spectrum = np.abs(np.fft.rfft(wave))
        assert np.argmax(spectrum) == 500  # 1 kHz at 2 Hz per bin
        assert np.max(np.abs(wave)) < 1.2
    # Band-limited: the alias of a 5 kHz saw's 6th harmonic (48k - 30k = 18 kHz) is far weaker
    # than a naive (phase ramp) saw's. Bins are 2 Hz wide.
    hi = np.abs(np.fft.rfft(synth.saw(np.full(n, 5000.0))))
    ramp = (np.arange(n) * 5000 / SR) % 1
    naive = np.abs(np.fft.rfft(2 * ramp - 1))
    assert hi[9000] / hi[2500] < 0.3 * naive[9000] / naive[2500]
    tone = synth.sine(np.full(n, 8000.0))
    assert _rms_db(synth.sweep_filter(tone, cutoff=500.0)) < _rms_db(tone) - 30
    swept = synth.sweep_filter(tone, cutoff=np.geomspace(200.0, 16_000.0, n))
    assert _rms_db(swept[: n // 4]) < _rms_db(swept[-n // 4 :]) - 20
    assert _rms_db(synth.sweep_filter(tone, cutoff=500.0, kind="hp")) > _rms_db(tone) - 1
    env = synth.adsr(n, gate=SR // 10, attack=0.01, decay=0.05, sustain=0.5, release=0.05)
    assert env[0] == 0 and abs(env.max() - 1) < 1e-3 and env[-1] < 1e-3
    assert synth.adsr(100, gate=0, attack=0.01, decay=0.1, sustain=0.5, release=0.1).max() == 0
    assert synth.midi_hz(69) == 440.0


def test_limiter_holds_the_true_peak_ceiling(rng: np.random.Generator) -> None:
    x = rng.standard_normal((2, SR)) * 0.5
    y = limit(x, ceiling_db=-2.0)
    assert true_peak(y) <= -1.9
    quiet = x * 0.01
    np.testing.assert_allclose(limit(quiet, ceiling_db=-2.0), quiet)


def test_cover_art_is_seeded() -> None:
    a, b = cover(seed=7, hue=0.3, size=64), cover(seed=7, hue=0.3, size=64)
    assert a.shape == (64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, b)
    assert a.std() > 10 and not np.array_equal(a, cover(seed=8, hue=0.3, size=64))
