"""Memory stays flat with track length (issue 10, item 14): the audio side works in blocks.

- the block-wise spectral front end gives what one-shot librosa gives on the whole signal
  (features, MFCCs, onset strength, HPSS energies, the beat activation), for any block size;
- the largest memory it takes is set by the block size, not by the length of the audio
  (tracemalloc peak on 2 vs 8 minutes streamed from a generator that never holds the signal);
- the streamed decode, resampler and video-change reader equal their whole-file versions.

The whole-render figure (peak RSS of a 20-minute vs a 1-minute track) is
``benchmarks/memory_flat.py``; it takes minutes, so it is not a test.
"""

from __future__ import annotations

import tracemalloc

import librosa
import numpy as np
import pytest
import soundfile as sf
from audio_fixtures import click_track, triad

from renderer.analysis.core import flux_envelope
from renderer.analysis.onsets import activation_from_flux, beat_activation, onset_envelope
from renderer.audio.decode import AudioStream, load_audio, resample_blocks
from renderer.audio.features import compute_features, loudness_gate, robust_normalise
from renderer.audio.spectral import compute_timeline, signal_timeline

SR = 22050
HOP = 512


def _music(seconds: float) -> np.ndarray:
    y, _ = click_track(128, seconds, sr=SR, seed=3)
    return (y + triad("D", True, seconds, sr=SR)[: len(y)]).astype(np.float32)


def _one_shot_features(y: np.ndarray) -> dict[str, np.ndarray]:
    """The features as computed before the block-wise front end: one STFT of the whole track."""
    stft = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP, center=True))
    power = stft**2
    rms = np.sqrt(np.mean(power, axis=0) * 2.0 / 2048)
    freqs = librosa.fft_frequencies(sr=SR, n_fft=2048)
    total = stft.sum(axis=0)
    centroid = np.where(total > 1e-10, (freqs[:, None] * stft).sum(0) / np.maximum(total, 1e-10), 0)
    flatness = np.exp(np.mean(np.log(power + 1e-10), axis=0)) / (np.mean(power, axis=0) + 1e-10)
    mel = librosa.feature.melspectrogram(S=power, sr=SR, n_mels=64)
    log_mel = librosa.power_to_db(mel, ref=1.0, top_db=80.0)
    harm, perc = librosa.decompose.hpss(np.sqrt(mel), kernel_size=(17, 9))
    chroma = librosa.feature.chroma_stft(S=power, sr=SR, tuning=0.0) * loudness_gate(rms)
    return {
        "rms": robust_normalise(rms),
        "centroid": robust_normalise(centroid),
        "flatness": robust_normalise(flatness),
        "onset": robust_normalise(librosa.onset.onset_strength(S=log_mel, sr=SR, hop_length=HOP)),
        "harmonic": robust_normalise(np.sqrt(np.mean(harm**2, axis=0))),
        "percussive": robust_normalise(np.sqrt(np.mean(perc**2, axis=0))),
        "mfcc": robust_normalise(librosa.feature.mfcc(S=log_mel, n_mfcc=8).T),
        "chroma": np.clip(chroma.T, 0.0, 1.0),
    }


def test_block_wise_features_equal_the_one_shot_computation():
    y = _music(9.0)
    y[: SR // 2] *= 1e-3  # a quiet intro: the log-mel floor must be the track's, not the block's
    reference = _one_shot_features(y)
    got = compute_features(y, sr=SR)
    for name, want in reference.items():
        assert got[name].shape == want.shape, name
        np.testing.assert_allclose(got[name], want, atol=2e-5, err_msg=name)
        if np.std(want) > 0:
            assert np.corrcoef(got[name].ravel(), want.ravel())[0, 1] > 0.9999, name


@pytest.mark.parametrize("block_frames", [16, 37])
def test_the_analysis_inputs_equal_the_one_shot_ones_for_any_block_size(block_frames):
    y = _music(7.0)
    small = signal_timeline(y, sr=SR, hop_length=HOP, block_frames=block_frames)
    whole = signal_timeline(y, sr=SR, hop_length=HOP, block_frames=100_000)
    for name in ("power", "chroma", "harmonic", "mfcc", "onset", "beat_flux", "mfcc13"):
        np.testing.assert_allclose(getattr(small, name), getattr(whole, name), rtol=1e-5,
                                   atol=1e-6, err_msg=name)  # fmt: skip
    # … and what the beat tracker and the sections get from the whole log-mel spectrogram
    stft = np.abs(librosa.stft(y, n_fft=2048, hop_length=HOP)) ** 2
    log_mel = librosa.power_to_db(librosa.feature.melspectrogram(S=stft, sr=SR, n_mels=96),
                                  top_db=80)  # fmt: skip
    want = beat_activation(log_mel, frame_rate=SR / HOP)
    got = activation_from_flux(small.beat_flux, small.beat_low_flux, frame_rate=SR / HOP)
    for name in ("combined", "broad", "low"):
        np.testing.assert_allclose(getattr(got, name), getattr(want, name), atol=1e-4,
                                   err_msg=name)  # fmt: skip
    np.testing.assert_allclose(flux_envelope(small.low_flux[None, :]),
                               onset_envelope(log_mel[:16], n_bands=1), atol=1e-4)  # fmt: skip
    np.testing.assert_allclose(small.mfcc13, librosa.feature.mfcc(S=log_mel, n_mfcc=13),
                               atol=1e-3)  # fmt: skip


def _generated(seconds: float, *, sr: int):
    """A source of 1-s blocks made on the fly (a pure function of the sample index): the whole
    signal never exists, so the traced memory is the front end's own."""

    def source():
        for start in range(0, int(seconds * sr), sr):
            t = np.arange(start, start + sr) / sr
            hit = np.exp(-(t % 0.5) * 40.0)
            yield (0.3 * np.sin(2 * np.pi * 220.0 * t) + 0.5 * hit * np.sin(2 * np.pi * 60 * t)
                   ).astype(np.float32)  # fmt: skip

    return source


def _traced_peak(seconds: float, *, block_frames: int, sr: int = 8000) -> int:
    compute_timeline(_generated(1.0, sr=sr), sr=sr, hop_length=HOP)  # imports, filter caches
    tracemalloc.start()
    try:
        compute_timeline(_generated(seconds, sr=sr), sr=sr, hop_length=HOP,
                         block_frames=block_frames)  # fmt: skip
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_the_largest_allocation_follows_the_block_size_not_the_length():
    sr = 8000  # a small rate: minutes of audio in seconds of test
    two, eight = _traced_peak(120, block_frames=1024), _traced_peak(480, block_frames=1024)
    assert eight < 1.25 * two, (two, eight)  # 4× the audio: the frame-rate arrays only
    one_shot_stft = (1 + 480 * sr // HOP) * 1025 * 8  # complex64 STFT of the 8 minutes
    assert eight < 0.5 * one_shot_stft, (eight, one_shot_stft)
    small_blocks = _traced_peak(120, block_frames=256)
    assert small_blocks < 0.5 * two, (small_blocks, two)  # the block size sets the peak


def test_streamed_decode_and_resampling_equal_the_whole_file(tmp_path):
    rng = np.random.default_rng(5)
    stereo = (0.2 * rng.standard_normal((2, 3 * 44100 + 17))).astype(np.float32)
    path = tmp_path / "s.flac"
    sf.write(str(path), stereo.T, 44100, subtype="PCM_24")
    whole, _ = sf.read(str(path), dtype="float32", always_2d=True)
    stream = AudioStream(path)
    assert (stream.sample_rate, stream.channels) == (44100, 2)
    blocks = list(stream.blocks(frames=10_000))
    assert max(b.shape[1] for b in blocks) == 10_000
    np.testing.assert_array_equal(np.concatenate(blocks, axis=1), whole.T)
    want = librosa.resample(whole.T, orig_sr=44100, target_sr=48000, res_type="soxr_hq")
    got = np.concatenate(list(resample_blocks(iter(blocks), sr_in=44100, sr_out=48000,
                                              channels=2)), axis=1)  # fmt: skip
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want, atol=1e-6)
    mono, rate = load_audio(path, sr=22050, mono=True)
    assert rate == 22050 and mono.shape == (1, int(np.ceil(whole.shape[0] * 22050 / 44100)))


def test_streamed_video_changes_equal_the_whole_decode(tmp_path):
    from renderer.encode.ffmpeg_bin import find_ffmpeg
    from renderer.encode.media import decode_video
    from renderer.run.reactivity import frame_changes

    video = tmp_path / "v.mp4"
    import subprocess

    subprocess.run([find_ffmpeg(), "-v", "error", "-f", "lavfi", "-i",
                    "testsrc2=size=96x54:rate=24:duration=3", "-pix_fmt", "yuv420p",
                    str(video)], check=True)  # fmt: skip
    frames = decode_video(video, vf="scale=64:36:flags=area,format=gray", size=(64, 36),
                          channels=1).reshape(72, -1).astype(np.float32)  # fmt: skip
    want = np.r_[0.0, np.abs(np.diff(frames, axis=0)).mean(axis=1) / 255.0]
    for per_read in (1, 10, 256):
        np.testing.assert_allclose(frame_changes(video, frames_per_read=per_read), want,
                                   rtol=1e-6)  # fmt: skip
