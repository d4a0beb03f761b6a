"""Music analysis on synthetic signals with known tempo, key, chords and sections."""

from __future__ import annotations

import json

import numpy as np
import pytest
from audio_fixtures import SR, click_track, triad, write_wav

from renderer.analysis import Analysis, Segment, analyze_signal, analyze_track
from renderer.analysis.chords import recognise_chords
from renderer.analysis.key import estimate_key, key_name
from renderer.analysis.meter import find_meter
from renderer.analysis.structure import cluster_labels, name_sections, segment
from renderer.analysis.tempo import estimate_tempo
from renderer.errors import AudioError


def _song(bpm: float, progression: list[tuple[str, bool]], bars_each: int, *, seed: int = 0):
    """Clicks at ``bpm`` with a triad per bar cycling through ``progression``."""
    bar = 4 * 60.0 / bpm
    seconds = bar * bars_each * len(progression)
    clicks, beats = click_track(bpm, seconds, seed=seed)
    harmony = np.concatenate([triad(r, m, bar * bars_each) for r, m in progression])
    n = min(len(clicks), len(harmony))
    return (clicks[:n] + harmony[:n]).astype(np.float32), beats


@pytest.mark.parametrize("bpm", [98.0, 120.0, 132.0])
def test_tempo_and_beats_on_click_tracks(bpm):
    y, truth = click_track(bpm, 20.0, offset=0.25)
    a = analyze_signal(y, sr=SR)
    assert a.tempo == pytest.approx(bpm, rel=0.02)
    import mir_eval

    f = mir_eval.beat.f_measure(mir_eval.beat.trim_beats(truth), mir_eval.beat.trim_beats(a.beats))
    assert f > 0.95
    # downbeats are the accented clicks (every 4th from the first)
    assert np.min(np.abs(a.downbeats[:, None] - truth[::4][None, :]), axis=1).max() < 0.07


def test_tempo_degenerate_inputs():
    assert estimate_tempo(np.zeros(100), frame_rate=43.0) == (120.0, 0.0)
    assert estimate_tempo(np.ones(500), frame_rate=43.0)[1] == 0.0
    beats = np.array([0.5, 1.0])
    downbeats, per_bar, meter = find_meter(beats, low=np.zeros(10), chroma=np.zeros((12, 10)),
                                           activation=np.zeros(10), frame_rate=43.0)  # fmt: skip
    np.testing.assert_array_equal(downbeats, beats[:1])
    assert per_bar == 4 and meter == "4/4"


def test_key_and_chords_on_a_minor_progression():
    prog = [("A", True), ("D", True), ("E", False), ("A", True)]
    y, _ = _song(120.0, prog, 2)
    a = analyze_signal(y, sr=SR)
    assert a.key == "Am" and 0 < a.key_confidence <= 1
    labels = [c.label for c in a.chords if c.end - c.start > 1.0]
    assert (
        labels[:4] == ["Am", "Dm", "E", "Am"][: len(labels[:4])]
        and "Dm" in labels
        and "E" in labels
    )


def test_key_profiles_and_names():
    c_major = np.zeros((12, 4))
    c_major[[0, 4, 7, 0, 2, 5, 9, 11], :] += 1.0
    assert estimate_key(c_major)[0] == "C"
    assert key_name(6, "minor") == "F#m" and key_name(3, "major") == "Eb"
    assert estimate_key(np.zeros((12, 5))) == ("C", 0.0)
    assert estimate_key(np.zeros((12, 0))) == ("C", 0.0)


def test_chords_empty_and_no_chord():
    assert recognise_chords(np.zeros((12, 0)), times=np.zeros(0), end_time=1.0) == []
    segs = recognise_chords(np.zeros((12, 4)), times=np.arange(4.0), end_time=4.0)
    assert segs == [(0.0, 4.0, "N")]


def test_sections_at_texture_changes():
    """8 bars clicks only, 8 bars clicks + chords, 8 bars chords only → boundaries near 16 s, 32 s."""
    bpm, bar = 120.0, 2.0
    clicks, _ = click_track(bpm, 48.0)
    chords = np.concatenate([triad("C", False, 8.0), triad("G", False, 8.0)] * 3)[: len(clicks)]
    y = clicks.copy()
    s16, s32 = int(16 * SR), int(32 * SR)
    y[s16:s32] += chords[s16:s32]
    y[s32:] = chords[s32:] + 0.002 * np.random.default_rng(1).standard_normal(len(y) - s32)
    a = analyze_signal(y.astype(np.float32), sr=SR)
    starts = [s.start for s in a.sections[1:]]
    assert any(abs(t - 16.0) <= bar * 1.5 for t in starts), starts
    assert any(abs(t - 32.0) <= bar * 1.5 for t in starts), starts
    assert a.sections[0].start == 0.0 and a.sections[-1].end == pytest.approx(48.0, abs=0.05)


def test_structure_helpers():
    assert name_sections([]) == []
    assert name_sections([0.2, 0.5, 0.9, 0.3, 0.9, 0.1]) == [
        "intro", "build", "drop", "breakdown", "drop", "outro"
    ]  # fmt: skip
    assert cluster_labels(np.array([[1.0, 0], [0, 1.0], [1.0, 0.01]])) == ["A", "B", "A"]
    short = segment(np.zeros((3, 5)), beat_times=np.arange(5.0), downbeats=np.zeros(0),
                    energy=np.zeros(5), duration=5.0)  # fmt: skip
    assert short == [(0.0, 5.0, "intro (A)")]


def test_silence_gives_an_empty_but_valid_analysis():
    a = analyze_signal(np.zeros(SR * 3, dtype=np.float32), sr=SR)
    assert a.tempo == 0.0 and a.beats.size == 0 and a.sections[0].label.startswith("silence")


def test_analyze_track_caches_by_content(tmp_path):
    y, _ = click_track(120.0, 8.0)
    path = write_wav(tmp_path / "t.wav", y)
    cache = tmp_path / "cache"
    a = analyze_track(path, cache_dir=cache)
    (entry,) = cache.glob("*.json")
    data = json.loads(entry.read_text())
    assert data["sha256"] == a.sha256 and data["source"] == str(path)
    b = analyze_track(path, cache_dir=cache)
    np.testing.assert_array_equal(a.beats, b.beats)
    entry.write_text("{broken")
    c = analyze_track(path, cache_dir=cache)
    assert c.tempo == a.tempo
    assert Analysis.from_dict(a.to_dict()).key == a.key
    assert isinstance(Segment(0.0, 1.0, "x"), Segment)
    with pytest.raises(AudioError, match="not found"):
        analyze_track(tmp_path / "nope.wav")


def _clicks_at(times: np.ndarray, seconds: float) -> np.ndarray:
    y = np.zeros(int(seconds * SR), dtype=np.float32)
    t = np.arange(int(0.05 * SR)) / SR
    body = (np.sin(2 * np.pi * 150 * t) * np.exp(-t * 60)).astype(np.float32)
    for b in times:
        i = int(b * SR)
        y[i : i + len(body)] += body[: len(y) - i]
    return y


def test_grid_fit_gives_sub_frame_tempo_and_declines_a_varying_tempo():
    import mir_eval

    from renderer.analysis.beats import fit_grid

    frame_rate = SR / 512
    # Constant 123.4 bpm: the fitted grid recovers the period far below the 23 ms frame step.
    beats = np.arange(0.3, 30.0, 60 / 123.4)
    env = np.zeros(int(31 * frame_rate))
    np.add.at(env, np.round(beats * frame_rate).astype(int), 1.0)
    tracked = np.round(beats * frame_rate) / frame_rate  # frame-quantised, as a tracker gives
    grid = fit_grid(tracked, activation=env, frame_rate=frame_rate)
    assert 60 / np.median(np.diff(grid)) == pytest.approx(123.4, rel=0.003)
    assert len(grid) == pytest.approx(len(beats), abs=1)
    assert fit_grid(beats[:5], activation=env, frame_rate=frame_rate) is None
    # Accelerating 100 → 140 bpm: no constant grid fits, the tracked beats are kept.
    bpm_curve = np.linspace(100, 140, 80)
    varying = 0.3 + np.r_[0.0, np.cumsum(60.0 / bpm_curve[:-1])]
    ramp_env = np.zeros(int((varying[-1] + 1) * frame_rate))
    np.add.at(ramp_env, np.round(varying * frame_rate).astype(int), 1.0)
    assert fit_grid(varying, activation=ramp_env, frame_rate=frame_rate) is None
    a = analyze_signal(_clicks_at(varying, varying[-1] + 1.0), sr=SR)
    f = mir_eval.beat.f_measure(
        mir_eval.beat.trim_beats(varying), mir_eval.beat.trim_beats(a.beats)
    )
    assert f > 0.8 and 100 < a.tempo < 140 and not a.constant_tempo


def test_choose_phase_moves_an_off_beat_stretch_onto_kicks_and_chord_changes():
    from renderer.analysis.beats import choose_phase
    from renderer.analysis.onsets import BeatActivation

    n = 1000  # 20 s at 120 bpm: beats every 25 frames, kicks and chord changes on them
    low = np.zeros(n)
    low[::25] = 1.0
    broad = low.copy()
    broad[12::25] = 0.8  # off-beat hats almost as strong as the beat
    novelty = np.zeros(n)
    novelty[::100] = 1.0  # a chord per bar
    act = BeatActivation(combined=(broad + low) / 2, broad=broad, low=low)
    on = np.arange(0.0, n - 30, 25.0)
    np.testing.assert_allclose(choose_phase(on, activation=act, chroma_novelty=novelty), on)
    off = on + 12.5
    moved = choose_phase(off, activation=act, chroma_novelty=novelty)
    assert np.allclose(moved % 25.0, 0.0) and len(moved) == len(off) - 1
    short = on[:4]
    np.testing.assert_array_equal(choose_phase(short, activation=act, chroma_novelty=novelty),
                                  short)  # fmt: skip
