"""The stage overlap of render_track: decoding in a worker thread behind a bounded queue, errors
crossing the thread boundary, and an early stop that leaves no thread behind. Plus the pieces
of the album film that need no model (audio join, chapters)."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
import soundfile as sf

from renderer.run.film import FilmPart, build_album_film, join_audio
from renderer.run.frames import threaded as _threaded


def test_worker_runs_in_another_thread_and_keeps_order():
    threads = []

    def source():
        for i in range(20):
            threads.append(threading.current_thread())
            yield i

    assert list(_threaded(source())) == list(range(20))
    assert all(t is not threading.main_thread() for t in threads)


def test_queue_is_bounded():
    produced = []

    def source():
        for i in range(100):
            produced.append(i)
            yield i

    it = _threaded(source(), depth=2)
    assert next(it) == 0
    time.sleep(0.2)  # give the producer every chance to run ahead
    # one item consumed, ≤ depth queued, one blocked in put(): memory bounded by the depth
    assert len(produced) <= 4
    it.close()


def test_errors_reach_the_consumer():
    def source():
        yield 1
        raise RuntimeError("decoder exploded")

    it = _threaded(source())
    assert next(it) == 1
    with pytest.raises(RuntimeError, match="decoder exploded"):
        next(it)


def test_early_stop_releases_the_worker():
    def source():
        yield from range(10_000)

    before = threading.active_count()
    it = _threaded(source(), depth=1)
    next(it)
    it.close()
    deadline = time.time() + 5
    while threading.active_count() > before and time.time() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def _wav(path, seconds, sr=48000, channels=2, value=0.1):
    sf.write(str(path), np.full((int(seconds * sr), channels), value, np.float32), sr)
    return path


def test_join_audio_trims_and_pads_to_picture(tmp_path):
    parts = [
        FilmPart(tmp_path / "a.mp4", _wav(tmp_path / "a.wav", 1.2, value=0.1), 1.0, "A"),
        FilmPart(
            tmp_path / "b.mp4", _wav(tmp_path / "b.wav", 0.5, channels=1, value=0.2), 0.75, "B"
        ),
    ]
    total = join_audio(parts, tmp_path / "album.wav", sample_rate=48000)
    assert total == pytest.approx(1.75)
    y, sr = sf.read(str(tmp_path / "album.wav"))
    assert y.shape == (84000, 2)
    assert np.allclose(y[:48000], 0.1, atol=1e-3)  # A trimmed to 1.0 s
    assert np.allclose(y[48000:72000], 0.2, atol=1e-3)  # B, mono → stereo
    assert np.allclose(y[72000:], 0.0)  # B padded with silence to its picture


def test_join_audio_refuses_mismatched_rates(tmp_path):
    part = FilmPart(tmp_path / "a.mp4", _wav(tmp_path / "a.wav", 0.5, sr=44100), 0.5, "A")
    with pytest.raises(ValueError, match="44100"):
        join_audio([part], tmp_path / "album.wav", sample_rate=48000)


def test_nothing_to_join_gives_no_film(tmp_path):
    assert build_album_film([], tmp_path / "album.mp4", work_dir=tmp_path) is None
    assert not (tmp_path / "album.mp4").exists()


def test_master_track_normalises_and_trims(tmp_path):
    import pyloudnorm

    from renderer.audio.master import master_track

    t = np.arange(3 * 44100) / 44100
    sf.write(str(tmp_path / "mono.wav"), 0.05 * np.sin(2 * np.pi * 220 * t), 44100)
    out = master_track(tmp_path / "mono.wav", tmp_path / "m.wav", target_lufs=-14.0,
                       trim_start=0.5, trim_end=2.5)  # fmt: skip
    y, sr = sf.read(str(out.path))
    assert (sr, y.shape) == (48000, (96000, 2)) and out.duration == pytest.approx(2.0)
    assert pyloudnorm.Meter(sr).integrated_loudness(y) == pytest.approx(-14.0, abs=0.3)
    assert out.peak_db <= -1.0 + 1e-3


def test_master_track_caps_gain_at_the_peak_ceiling_and_keeps_silence(tmp_path):
    from renderer.audio.master import master_track

    y = np.zeros((48000, 3), np.float32)
    y[1000, :] = 0.9  # one loud click in a quiet 3-channel file: gain limited by the peak
    y[:, 0] += 0.001 * np.sin(np.arange(48000) / 10)
    sf.write(str(tmp_path / "click.wav"), y, 48000, subtype="FLOAT")
    out = master_track(tmp_path / "click.wav", tmp_path / "c.wav", target_lufs=-14.0)
    assert out.peak_db == pytest.approx(-1.0, abs=0.05)
    assert sf.info(str(out.path)).channels == 2
    sf.write(str(tmp_path / "silence.wav"), np.zeros(48000, np.float32), 48000)
    quiet = master_track(tmp_path / "silence.wav", tmp_path / "s.wav")
    assert quiet.loudness_in is None and quiet.gain_db == 0.0
