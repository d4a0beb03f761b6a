"""Tests for renderer/audio/master.py: trim, loudness-normalise and write the muxing WAV."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyloudnorm
import pytest
import soundfile as sf

from renderer.audio.master import PEAK_CEILING_DB, master_track

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


def test_quiet_track_with_transients_is_capped_at_the_ceiling(tmp_path):
    # quiet tones with a few full-scale clicks: the gain to -14 LUFS would clip the clicks
    y = _music(4.0, amp=0.01)
    y[SR_IN :: SR_IN // 2][:4] = 0.9
    src = _write(tmp_path / "in.wav", y)
    from renderer.audio.decode import AudioWarning

    with pytest.warns(AudioWarning, match="LU short of the -14 LUFS target"):
        result = master_track(src, tmp_path / "out.wav", target_lufs=-14.0)
    data = sf.read(str(tmp_path / "out.wav"))[0]
    peak = np.abs(data).max()
    assert peak < CEILING
    assert 20 * np.log10(peak) == pytest.approx(PEAK_CEILING_DB, abs=0.05)  # right at the cap
    assert result.peak_db == pytest.approx(PEAK_CEILING_DB, abs=0.01)
    assert result.gain_db < -14.0 - result.loudness_in  # less gain than the target asked for
    assert _lufs(tmp_path / "out.wav") < -14.0 - 1.0  # so it ends up under target


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
    reached = result.loudness_in + result.gain_db
    assert "quiet.wav" in text and f"reaches {reached:.1f} LUFS" in text
    assert f"{-14.0 - reached:.1f} LU short" in text
    with warnings.catch_warnings(record=True) as caught:  # a normal master: no warning
        warnings.simplefilter("always")
        sf.write(
            str(tmp_path / "normal.wav"), np.stack([0.1 * np.sin(2 * np.pi * 220 * t)] * 2).T, sr
        )
        master_track(tmp_path / "normal.wav", tmp_path / "out2.wav", target_lufs=-14.0)
    assert not [w for w in caught if issubclass(w.category, AudioWarning)]
