"""Tests for renderer/audio/master.py (trim, loudness-normalise, true-peak limit, write the muxing
WAV) and its streamed meter and limiter."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from renderer.audio.master import MAX_LIMITING_DB, PEAK_CEILING_DB, master_track

SR_IN = 44100
CEILING = 10 ** (PEAK_CEILING_DB / 20)


def _music(seconds: float, *, sr: int = SR_IN, amp: float = 0.1) -> np.ndarray:
    """A few tones with a slow tremolo: a low crest factor, like mastered music at ~ -20 LUFS."""
    t = np.arange(int(seconds * sr)) / sr
    y = sum(np.sin(2 * np.pi * f * t + k) for k, f in enumerate((220.0, 440.0, 1000.0))) / 3
    return (amp * (0.8 + 0.2 * np.sin(2 * np.pi * 0.5 * t)) * y).astype(np.float32)


def _write(path: Path, y: np.ndarray, sr: int = SR_IN, subtype: str = "FLOAT") -> Path:
    sf.write(str(path), y.T if y.ndim == 2 else y, sr, subtype=subtype)
    return path


def _lufs(path: Path) -> float:
    data, sr = sf.read(str(path), dtype="float64", always_2d=True)
    return pyloudnorm.Meter(sr).integrated_loudness(data)


def test_output_is_48k_stereo_pcm24_wav(tmp_path):
    src = _write(tmp_path / "mono.wav", _music(2.0))
    out = tmp_path / "run" / "audio" / "t.wav"
    result = master_track(src, out)
    assert result.path == out and out.is_file()
    info = sf.info(str(out))
    assert (info.format, info.subtype, info.samplerate, info.channels) == (
        "WAV",
        "PCM_24",
        48000,
        2,
    )
    # librosa's resampler may round the length up by one sample (ceil of 88200 · 48000/44100)
    assert abs(info.frames - 2 * 48000) <= 1
    assert result.duration == pytest.approx(2.0, abs=1 / 48000)
    data, _ = sf.read(str(out), always_2d=True)
    np.testing.assert_array_equal(data[:, 0], data[:, 1])  # mono is duplicated to both sides
    assert not list(out.parent.glob(".*partial*"))  # written through a temporary name


@pytest.mark.parametrize("target", [-14.0, -18.0])
def test_loudness_reaches_target(tmp_path, target):
    src = _write(tmp_path / "in.wav", np.stack([_music(6.0), 0.7 * _music(6.0)]))
    out = tmp_path / "out.wav"
    result = master_track(src, out, target_lufs=target)
    assert result.loudness_in == pytest.approx(_lufs(src), abs=0.2)  # measured on the input
    assert result.loudness_in < target - 2  # the test input really needed gain
    assert result.gain_db == pytest.approx(target - result.loudness_in, abs=1e-3)
    assert _lufs(out) == pytest.approx(target, abs=0.5)
    assert np.abs(sf.read(str(out))[0]).max() < CEILING
    assert result.limiting_db == 0.0  # low crest factor: the gain alone, nothing limited


def test_trim_cuts_the_audio(tmp_path):
    # 0-1 s at 200 Hz, 1-4 s at 1000 Hz, 4-6 s at 3000 Hz: the trim must keep only 1000 Hz
    sr = SR_IN
    t = np.arange(6 * sr) / sr
    freq = np.where(t < 1.0, 200.0, np.where(t < 4.0, 1000.0, 3000.0))
    y = (0.2 * np.sin(2 * np.pi * np.cumsum(freq) / sr)).astype(np.float32)
    src = _write(tmp_path / "in.wav", y)
    result = master_track(src, tmp_path / "out.wav", trim_start=1.0, trim_end=4.0)
    data, out_sr = sf.read(str(tmp_path / "out.wav"), always_2d=True)
    assert len(data) == 3 * 48000
    assert result.duration == pytest.approx(3.0)
    win = 4800  # 0.1 s
    for segment in (data[500 : 500 + win, 0], data[-500 - win : -500, 0]):
        spectrum = np.abs(np.fft.rfft(segment * np.hanning(win)))
        peak_hz = np.argmax(spectrum) * out_sr / win
        assert peak_hz == pytest.approx(1000.0, abs=20.0)


def test_trim_end_past_the_file_keeps_the_rest(tmp_path):
    src = _write(tmp_path / "in.wav", _music(3.0))
    result = master_track(src, tmp_path / "out.wav", trim_start=0.5, trim_end=100.0)
    assert abs(sf.info(str(tmp_path / "out.wav")).frames - int(2.5 * 48000)) <= 1
    assert result.duration == pytest.approx(2.5, abs=1 / 48000)


def test_peak_stays_below_ceiling_on_loud_input(tmp_path):
    rng = np.random.default_rng(0)
    loud = np.clip(rng.normal(0.0, 0.6, (2, 3 * SR_IN)), -1.0, 1.0).astype(np.float32)
    src = _write(tmp_path / "loud.wav", loud, subtype="PCM_16")
    result = master_track(src, tmp_path / "out.wav", target_lufs=-14.0)
    data = sf.read(str(tmp_path / "out.wav"))[0]
    assert np.abs(data).max() < CEILING
    assert result.gain_db < 0  # a loud input is turned down
    assert result.peak_db < PEAK_CEILING_DB


def _true_peak_db(path: Path) -> float:
    """True peak of a written file: 4× oversampling (scipy's polyphase resampler), in dBTP."""
    from scipy.signal import resample_poly

    data = sf.read(str(path), dtype="float64", always_2d=True)[0]
    return float(20 * np.log10(np.abs(resample_poly(data, 4, 1, axis=0)).max()))


def _drums(seconds: float, *, sr: int = SR_IN) -> np.ndarray:
    """A quiet, peaky mix: near-full-scale kick and snare hits over a soft chord (about -19 LUFS
    and 0 dBTP: no gain alone brings it to -14 LUFS under -1 dBTP)."""
    rng = np.random.default_rng(11)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    y = sum(0.05 * np.sin(2 * np.pi * f * t + k) for k, f in enumerate((196.0, 246.9, 293.7)))
    hit_t = np.arange(int(0.12 * sr)) / sr
    kick = np.sin(2 * np.pi * (45 + 110 * np.exp(-hit_t * 40)) * hit_t) * np.exp(-hit_t * 150)
    snare = rng.standard_normal(len(hit_t)) * np.exp(-hit_t * 150)
    for k, start in enumerate(np.arange(0.0, seconds - 0.2, 0.5)):
        i = int(start * sr)
        y[i : i + len(hit_t)] += 0.9 * kick if k % 2 == 0 else 0.45 * snare
    return np.stack([y, 0.9 * y]).astype(np.float32)


def test_a_quiet_peaky_mix_reaches_the_target_under_the_true_peak_ceiling(tmp_path):
    src = _write(tmp_path / "drums.wav", _drums(12.0))
    assert _lufs(src) < -17.0 and _true_peak_db(src) > -1.0  # quiet, and no room for its gain
    out = tmp_path / "out.wav"
    result = master_track(src, out, target_lufs=-14.0)
    assert _lufs(out) == pytest.approx(-14.0, abs=1.0)
    assert result.loudness_out == pytest.approx(_lufs(out), abs=0.05)
    assert _true_peak_db(out) <= PEAK_CEILING_DB
    assert result.peak_db == pytest.approx(_true_peak_db(out), abs=0.05)
    assert 0.5 < result.limiting_db <= MAX_LIMITING_DB  # the limiter, not a gain cap, did it
    assert result.gain_db > -14.0 - result.loudness_in  # it made up what the limiter took


VIBE = Path("/work/shared/audio/vibe-ace.ogg")  # a real quiet mono master (-21.4 LUFS, -3 dBTP)


@pytest.mark.skipif(not VIBE.is_file(), reason="the shared third-party recordings are absent")
def test_a_real_quiet_master_reaches_minus_14_lufs(tmp_path):
    out = tmp_path / "vibe.wav"
    result = master_track(VIBE, out, target_lufs=-14.0, trim_start=20.0, trim_end=40.0)
    assert result.loudness_in < -17.0  # the trimmed input as stereo (the mono file: -20.8)
    assert result.limiting_db > 0.5
    assert _lufs(out) == pytest.approx(-14.0, abs=1.0)
    assert _true_peak_db(out) <= PEAK_CEILING_DB
    assert result.duration == pytest.approx(20.0, abs=1e-3)


def test_a_track_needing_too_much_limiting_says_by_how_much_and_why(tmp_path):
    # quiet tones with a few full-scale clicks: -14 LUFS would need ~30 dB off the clicks
    y = _music(4.0, amp=0.01)
    y[SR_IN :: SR_IN // 2][:4] = 0.9
    src = _write(tmp_path / "in.wav", y)
    from renderer.audio.decode import AudioWarning

    with pytest.warns(AudioWarning, match="LU short of the -14 LUFS target") as caught:
        result = master_track(src, tmp_path / "out.wav", target_lufs=-14.0)
    text = str(caught[0].message)
    assert "in.wav" in text and f"more than the {MAX_LIMITING_DB:g} dB of limiting" in text
    assert _true_peak_db(tmp_path / "out.wav") <= PEAK_CEILING_DB
    assert result.limiting_db == pytest.approx(MAX_LIMITING_DB, abs=0.5)  # as deep as it goes
    assert _lufs(tmp_path / "out.wav") < -14.0 - 1.0  # so it ends up under target


def test_the_limiter_is_exact_and_the_same_for_any_block_size():
    from scipy.signal import resample_poly

    from renderer.audio.limiter import Limiter

    rng = np.random.default_rng(2)
    x = 2.0 * rng.standard_normal((2, 30_000))  # ~+12 dB over the ceiling, everywhere
    outs = []
    for block in (30_000, 4096, 333):
        limiter = Limiter(rate=48000, channels=2, ceiling=10 ** (-1.0 / 20))
        parts = [limiter.process(x[:, i : i + block]) for i in range(0, x.shape[1], block)]
        outs.append(np.concatenate([*parts, limiter.flush()], axis=1))
    assert outs[0].shape == x.shape
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-9)
    np.testing.assert_allclose(outs[2], outs[0], atol=1e-9)
    assert 20 * np.log10(np.abs(resample_poly(outs[0], 4, 1, axis=1)).max()) < -0.95
    quiet = 0.05 * x  # under the ceiling: passed through untouched, no delay left over
    limiter = Limiter(rate=48000, channels=2, ceiling=10 ** (-1.0 / 20))
    same = np.concatenate([limiter.process(quiet), limiter.flush()], axis=1)
    np.testing.assert_array_equal(same, quiet)


def test_the_streamed_meter_matches_pyloudnorm():
    from renderer.audio.loudness import LoudnessMeter

    rng = np.random.default_rng(4)
    x = 0.1 * rng.standard_normal((2, 7 * 48000 + 123))
    x[:, 48000:96000] *= 1e-3  # a near-silent second: the gates must drop it
    meter = LoudnessMeter(rate=48000, channels=2)
    for i in range(0, x.shape[1], 7777):
        meter.add(x[:, i : i + 7777])
    want = pyloudnorm.Meter(48000).integrated_loudness(x.T)
    assert meter.integrated() == pytest.approx(want, abs=1e-6)


def test_silence_keeps_unity_gain(tmp_path):
    src = _write(tmp_path / "silence.wav", np.zeros(2 * SR_IN, np.float32))
    result = master_track(src, tmp_path / "out.wav")
    data = sf.read(str(tmp_path / "out.wav"), always_2d=True)[0]
    assert data.shape[1] == 2 and abs(len(data) - 2 * 48000) <= 1
    assert not data.any()
    assert result.loudness_in is None
    assert result.gain_db == 0.0
    assert result.peak_db == pytest.approx(-180.0)


def test_very_short_clip_is_not_measured(tmp_path):
    src = _write(tmp_path / "short.wav", _music(0.2, amp=0.3))  # shorter than one 400 ms block
    result = master_track(src, tmp_path / "out.wav")
    assert result.loudness_in is None
    assert result.gain_db == 0.0  # peak 0.3 is under the ceiling: nothing to do
    assert abs(sf.info(str(tmp_path / "out.wav")).frames - round(0.2 * 48000)) <= 1


def test_multichannel_folds_to_stereo(tmp_path):
    tone = _music(2.0, sr=48000)
    quiet = np.zeros_like(tone)
    # channels L, R, L, R: the odd ones are silent, so the right output must be too
    src = _write(tmp_path / "quad.wav", np.stack([tone, quiet, tone, quiet]), sr=48000)
    master_track(src, tmp_path / "out.wav")
    data = sf.read(str(tmp_path / "out.wav"), always_2d=True)[0]
    assert data.shape[1] == 2
    assert np.abs(data[:, 0]).max() > 0.05
    assert not data[:, 1].any()


def test_same_input_gives_the_same_bytes(tmp_path):
    src = _write(tmp_path / "in.wav", _music(2.0))
    master_track(src, tmp_path / "a.wav")
    master_track(src, tmp_path / "b.wav")
    assert (tmp_path / "a.wav").read_bytes() == (tmp_path / "b.wav").read_bytes()


def test_a_quiet_master_with_loud_peaks_says_by_how_much_it_missed(tmp_path):
    import warnings

    from renderer.audio.decode import AudioWarning
    from renderer.audio.master import master_track

    sr = 48000
    t = np.arange(5 * sr) / sr
    y = 0.02 * np.sin(2 * np.pi * 220 * t)
    y[:: sr // 2] = 0.95  # clicks near full scale: no room for the 20 dB the target needs
    sf.write(str(tmp_path / "quiet.wav"), np.stack([y, y]).T, sr)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = master_track(tmp_path / "quiet.wav", tmp_path / "out.wav", target_lufs=-14.0)
    (warning,) = [w for w in caught if issubclass(w.category, AudioWarning)]
    text = str(warning.message)
    reached = result.loudness_out
    assert reached == pytest.approx(_lufs(tmp_path / "out.wav"), abs=0.05)
    assert "quiet.wav" in text and f"reaches {reached:.1f} LUFS" in text
    assert f"{-14.0 - reached:.1f} LU short" in text
    with warnings.catch_warnings(record=True) as caught:  # a normal master: no warning
        warnings.simplefilter("always")
        sf.write(
            str(tmp_path / "normal.wav"), np.stack([0.1 * np.sin(2 * np.pi * 220 * t)] * 2).T, sr
        )
        master_track(tmp_path / "normal.wav", tmp_path / "out2.wav", target_lufs=-14.0)
    assert not [w for w in caught if issubclass(w.category, AudioWarning)]
