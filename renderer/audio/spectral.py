"""The spectral front end of features and analysis, computed in blocks of STFT frames.

One mono stream at 22.05 kHz goes through a 2048-point STFT (hop 512, librosa's ``center=True``
framing) :data:`BLOCK_FRAMES` frames at a time; each block is reduced at once to a few numbers per
frame and dropped, so no whole-track spectrogram is ever held. What is kept, per STFT frame
(:class:`Timeline`), is what :mod:`renderer.audio.features` and :mod:`renderer.analysis.core` need:

- pass 1: mean power, spectral centroid and flatness, chroma, the harmonic and percussive energy
  of a 64-band mel HPSS (its 17-frame median along time runs with 8 frames of context carried
  across blocks), and the largest mel power of the track;
- pass 2 (the audio streamed again): what needs the log-mel spectrogram, which librosa floors at
  80 dB below the track's loudest bin, known only after pass 1: MFCCs, onset strength (64 bands),
  the low-band spectral flux and MFCCs of the 96-band log-mel for the analysis, and the flux of its
  percussive part (another median HPSS with carried context) that the beat tracker listens to.

Every value equals the one-shot librosa computation over the whole signal to float rounding
(``tests/test_memory_flat.py``). The most recent timeline is memoised, so features and analysis
of one track share it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

N_FFT = 2048
BLOCK_FRAMES = 1024  # ≈ 24 s of audio per block; ~20 MB of transient arrays
FEATURE_MELS, ANALYSIS_MELS = 64, 96
HPSS_KERNEL = (17, 9)  # (frames along time, mel bands along frequency)
BEAT_KERNEL = 17  # the beat activation's percussive HPSS (both axes), onsets.percussive_log_mel
BEAT_LAG, BEAT_LOW_MELS = 2, 12  # onsets._flux's lag; onsets.LOW_BANDS
LOW_FLUX_MELS = 16
ANALYSIS_MFCC = 13
TOP_DB = 80.0
AMIN = 1e-10


@dataclass(frozen=True)
class Timeline:
    """Per-STFT-frame values of one track (``T = 1 + samples // hop`` frames).

    ``power`` ``[T]`` mean |STFT|²; ``centroid`` (Hz), ``flatness`` ``[T]``; ``chroma`` ``[12, T]``
    (per-frame max-normalised, not loudness-gated); ``harmonic``/``percussive`` ``[T]`` RMS of the
    64-mel HPSS parts; ``mfcc`` ``[n_mfcc, T]`` and ``onset`` ``[T]`` from the 64-mel log
    spectrogram; ``low_flux`` ``[T]`` the mean positive log-mel difference of the 16 lowest bands
    of the 96-mel spectrogram, ``mfcc13`` ``[13, T]`` its MFCCs; ``beat_flux``/``beat_low_flux`` ``[T]`` the
    2-frame-lag flux of its percussive part (all bands / the 12 lowest), what
    :func:`renderer.analysis.onsets.beat_activation` computes from the whole log-mel.
    """

    sample_rate: int
    hop_length: int
    n_samples: int
    power: np.ndarray
    centroid: np.ndarray
    flatness: np.ndarray
    chroma: np.ndarray
    harmonic: np.ndarray
    percussive: np.ndarray
    mfcc: np.ndarray
    onset: np.ndarray
    low_flux: np.ndarray
    mfcc13: np.ndarray
    beat_flux: np.ndarray
    beat_low_flux: np.ndarray

    @property
    def n_frames(self) -> int:
        return int(self.power.shape[0])

    @property
    def duration(self) -> float:
        return self.n_samples / self.sample_rate


def stft_blocks(samples: Iterator[np.ndarray], *, hop: int, block_frames: int = BLOCK_FRAMES,
                counter: list | None = None) -> Iterator[np.ndarray]:  # fmt: skip
    """Magnitude STFT ``[1 + N_FFT/2, ≤ block_frames]`` of a mono stream of 1-D blocks, framed as
    ``librosa.stft(y, center=True, pad_mode="constant")`` frames the whole signal.
    ``counter`` (a one-element list) receives the number of samples read."""
    import librosa

    half = N_FFT // 2
    buf = np.zeros(half, np.float32)
    total = emitted = 0
    step = block_frames * hop
    for y in samples:
        total += len(y)
        buf = np.concatenate([buf, np.asarray(y, np.float32)])
        while len(buf) >= step - hop + N_FFT:
            seg = buf[: step - hop + N_FFT]
            yield np.abs(librosa.stft(seg, n_fft=N_FFT, hop_length=hop, center=False))
            buf = buf[step:]
            emitted += block_frames
    if counter is not None:
        counter[:] = [total]
    remaining = 1 + total // hop - emitted
    if remaining > 0:
        buf = np.concatenate([buf, np.zeros(half + N_FFT, np.float32)])
        seg = buf[: (remaining - 1) * hop + N_FFT]
        yield np.abs(librosa.stft(seg, n_fft=N_FFT, hop_length=hop, center=False))


class _TimeMedian:
    """A running median along time (``width`` frames) of a stream of ``[bands, F]`` blocks, as
    ``scipy.ndimage.median_filter(S, size=(1, width), mode=mode)`` of the whole track gives it:
    each column is emitted once ``width // 2`` frames of real context follow it (the track's true
    ends get ``mode``'s padding). :meth:`add` returns ``(S, median)`` of the newly emitted columns.
    """

    def __init__(self, *, width: int, mode: str) -> None:
        self.width, self.mode, self.ctx = width, mode, width // 2
        self.buf: np.ndarray | None = None
        self.started = False

    def add(self, S: np.ndarray | None, *, final: bool = False) -> tuple[np.ndarray, np.ndarray]:
        from scipy.ndimage import median_filter

        if S is not None:
            self.buf = S if self.buf is None else np.concatenate([self.buf, S], axis=1)
        if self.buf is None:
            return np.zeros((0, 0)), np.zeros((0, 0))
        lo = self.ctx if self.started else 0
        hi = self.buf.shape[1] if final else self.buf.shape[1] - self.ctx
        if hi <= lo:
            empty = self.buf[:, :0]
            return empty, empty
        median = median_filter(self.buf, size=(1, self.width), mode=self.mode)[:, lo:hi]
        cols = self.buf[:, lo:hi]
        self.started = True
        self.buf = self.buf[:, hi - self.ctx :]
        return cols, median


def _hpss_energies(S: np.ndarray, harm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RMS ``[F]`` of the harmonic and percussive parts of ``librosa.decompose.hpss(S,
    kernel_size=(17, 9))``, given its time median ``harm`` (the frequency median is per frame)."""
    import librosa
    from scipy.ndimage import median_filter

    perc = median_filter(S, size=(HPSS_KERNEL[1], 1), mode="reflect")
    mask_h = librosa.util.softmask(harm, perc, power=2.0, split_zeros=True)
    mask_p = librosa.util.softmask(perc, harm, power=2.0, split_zeros=True)
    return np.sqrt(np.mean((S * mask_h) ** 2, axis=0)), np.sqrt(np.mean((S * mask_p) ** 2, axis=0))


def _percussive_db(power: np.ndarray, harm: np.ndarray, *, floor: float) -> np.ndarray:
    """``renderer.analysis.onsets.percussive_log_mel`` on emitted columns: the percussive part
    (dB) of a power mel, given its 17-frame time median ``harm`` (mode "nearest")."""
    from scipy.ndimage import median_filter

    perc = median_filter(power, size=(BEAT_KERNEL, 1), mode="nearest")
    mask = perc**2 / (perc**2 + harm**2 + 1e-20)
    return np.maximum(10.0 * np.log10(power * mask + 1e-20), floor)


def _copy(a: np.ndarray) -> np.ndarray:
    """A compact copy: librosa's MFCCs are a view of the whole DCT, which would stay alive."""
    return np.array(a, dtype=np.float32, copy=True)


def _positive_flux(log_mel: np.ndarray, prev: np.ndarray | None) -> np.ndarray:
    """``max(0, S[:, t] - S[:, t-1])`` ``[bands, F]``; the track's first frame has no flux."""
    before = log_mel[:, :1] if prev is None else prev[:, None]
    return np.maximum(0.0, np.diff(log_mel, axis=1, prepend=before))


@functools.lru_cache(maxsize=4)
def _filter_banks(sr: int) -> tuple:
    """``(mel64, mel96, chroma, freqs)`` for the STFT at ``sr``, built once per rate (librosa's
    chroma filter bank alone takes ~60 ms) and read-only, so every timeline shares them. The mel
    filters overlap only their neighbours: as sparse matrices they cost ~1/30 of a dense product
    on the same numbers."""
    import librosa
    from scipy.sparse import csr_matrix

    chroma = librosa.filters.chroma(sr=sr, n_fft=N_FFT, tuning=0.0)
    freqs = librosa.fft_frequencies(sr=sr, n_fft=N_FFT)
    chroma.flags.writeable = freqs.flags.writeable = False
    mels = (csr_matrix(librosa.filters.mel(sr=sr, n_fft=N_FFT, n_mels=n))
            for n in (FEATURE_MELS, ANALYSIS_MELS))  # fmt: skip
    return (*mels, chroma, freqs)


def compute_timeline(source: Callable[[], Iterator[np.ndarray]], *, sr: int, hop_length: int,
                     n_mfcc: int = 8, block_frames: int = BLOCK_FRAMES) -> Timeline:  # fmt: skip
    """The :class:`Timeline` of the mono signal ``source()`` yields (1-D float blocks at ``sr``);
    ``source`` is called twice (two passes over the audio)."""
    import librosa

    mel64, mel96, chroma_fb, freqs = _filter_banks(sr)
    cols: dict[str, list[np.ndarray]] = {}

    def keep(**arrays: np.ndarray) -> None:
        for name, value in arrays.items():
            cols.setdefault(name, []).append(value)

    def keep_hpss(S: np.ndarray, harm: np.ndarray) -> None:
        if S.shape[1]:
            harmonic, percussive = _hpss_energies(S, harm)
            keep(harmonic=harmonic, percussive=percussive)

    beat_prev: list[np.ndarray] = []  # the last BEAT_LAG columns of the percussive log-mel

    def keep_beat(power: np.ndarray, harm: np.ndarray) -> None:
        if not power.shape[1]:
            return
        perc = _percussive_db(power, harm, floor=floor96)
        ext = np.concatenate([*beat_prev, perc], axis=1)
        at = np.arange(perc.shape[1]) + (ext.shape[1] - perc.shape[1])
        at = at[at >= BEAT_LAG]  # the track's first BEAT_LAG frames have no flux
        flux = np.zeros(perc.shape)
        flux[:, perc.shape[1] - len(at) :] = np.maximum(0.0, ext[:, at] - ext[:, at - BEAT_LAG])
        keep(beat_flux=flux.mean(axis=0), beat_low_flux=flux[:BEAT_LOW_MELS].mean(axis=0))
        beat_prev[:] = [ext[:, -BEAT_LAG:].copy()]

    hpss = _TimeMedian(width=HPSS_KERNEL[0], mode="reflect")
    peak64, peak96, counter = AMIN, AMIN, [0]
    for mag in stft_blocks(source(), hop=hop_length, block_frames=block_frames, counter=counter):
        power = mag**2
        total = mag.sum(axis=0)
        log_mean = np.mean(np.log(power + 1e-10), axis=0)
        mean_power = np.mean(power, axis=0)
        raw_chroma = chroma_fb @ power
        chroma = librosa.util.normalize(raw_chroma, norm=np.inf, axis=0)
        m64, m96 = mel64 @ power, mel96 @ power
        peak64, peak96 = max(peak64, float(m64.max())), max(peak96, float(m96.max()))
        keep_hpss(*hpss.add(np.sqrt(m64)))
        keep(power=mean_power, chroma=chroma, total=total, centroid_num=(freqs[:, None] * mag).sum(axis=0),
             flatness=np.exp(log_mean) / (mean_power + 1e-10))  # fmt: skip
    keep_hpss(*hpss.add(None, final=True))
    floor64 = 10.0 * np.log10(peak64) - TOP_DB  # power_to_db(top_db=80)'s floor, track-wide
    floor96 = 10.0 * np.log10(peak96) - TOP_DB
    prev64 = prev96 = None
    beat_median = _TimeMedian(width=BEAT_KERNEL, mode="nearest")
    for mag in stft_blocks(source(), hop=hop_length, block_frames=block_frames):
        power = mag**2
        log64 = np.maximum(librosa.power_to_db(mel64 @ power, ref=1.0, amin=AMIN, top_db=None),
                           floor64)  # fmt: skip
        log96 = np.maximum(librosa.power_to_db(mel96 @ power, ref=1.0, amin=AMIN, top_db=None),
                           floor96)  # fmt: skip
        flux96 = _positive_flux(log96, prev96)
        keep(mfcc=_copy(librosa.feature.mfcc(S=log64, n_mfcc=n_mfcc)),
             flux64=_positive_flux(log64, prev64).mean(axis=0),
             low_flux=flux96[:LOW_FLUX_MELS].mean(axis=0),
             mfcc13=_copy(librosa.feature.mfcc(S=log96, n_mfcc=ANALYSIS_MFCC)))  # fmt: skip
        prev64, prev96 = log64[:, -1].copy(), log96[:, -1].copy()
        keep_beat(*beat_median.add(10.0 ** (log96 / 10.0)))
    keep_beat(*beat_median.add(None, final=True))
    out = {name: np.concatenate(parts, axis=-1) for name, parts in cols.items()}
    total = out.pop("total")
    centroid = np.where(total > 1e-10, out.pop("centroid_num") / np.maximum(total, 1e-10), 0)
    silent = np.sqrt(out["power"] * 2.0 / N_FFT) < 1e-6
    out["flatness"] = np.where(silent, 0.0, out["flatness"])
    # librosa.onset.onset_strength(S=…, center=True) centres the flux on the STFT window: frame t
    # holds the flux of frame t - n_fft/(2·hop), and the first frames none
    flux64 = out.pop("flux64")
    shift = N_FFT // (2 * hop_length)
    onset = np.concatenate([np.zeros(shift), flux64])[: len(flux64)]
    return Timeline(sample_rate=sr, hop_length=hop_length, n_samples=counter[0],
                    centroid=centroid, onset=onset, **out)  # fmt: skip


# The last timeline computed, so features and analysis of one track decode and transform it once.
_LAST: dict[tuple, Timeline] = {}


def file_timeline(path: str | Path, *, sr: int, hop_length: int, n_mfcc: int = 8) -> Timeline:
    """The :class:`Timeline` of an audio file's mono mix at ``sr`` (streamed decode + resample);
    the most recent one is memoised by (path, size, mtime, parameters)."""
    from renderer.audio.decode import stream_audio

    path = Path(path)
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, sr, hop_length, n_mfcc)
    if key not in _LAST:

        def source() -> Iterator[np.ndarray]:
            blocks, _ = stream_audio(path, sr=sr, mono=True)
            return (block[0] for block in blocks)

        timeline = compute_timeline(source, sr=sr, hop_length=hop_length, n_mfcc=n_mfcc)
        _LAST.clear()
        _LAST[key] = timeline
    return _LAST[key]


def signal_timeline(y: np.ndarray, *, sr: int, hop_length: int, n_mfcc: int = 8,
                    block_frames: int = BLOCK_FRAMES) -> Timeline:  # fmt: skip
    """The :class:`Timeline` of mono ``y`` ``[N]`` held in memory (fed in 1-s blocks)."""
    y = np.asarray(y, dtype=np.float32)

    def source() -> Iterator[np.ndarray]:
        return (y[i : i + sr] for i in range(0, len(y), sr))

    return compute_timeline(source, sr=sr, hop_length=hop_length, n_mfcc=n_mfcc,
                            block_frames=block_frames)  # fmt: skip
