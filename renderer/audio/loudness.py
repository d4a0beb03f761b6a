"""Loudness and true peak measured block by block, with carried state.

:class:`LoudnessMeter` is ITU-R BS.1770-4 integrated loudness (K-weighting, 400 ms gating blocks
every 100 ms, absolute gate −70 LUFS, relative gate −10 LU) fed one block at a time: the
K-weighting filters carry their state across blocks and only the mean square of each gating block
is kept (10 floats per channel per second), so a 20-minute track costs what a 1-minute one does.
It uses pyloudnorm's filter coefficients and block boundaries and matches
``pyloudnorm.Meter(sr).integrated_loudness`` of the whole signal to ~1e-6 LU.

:class:`TruePeakMeter` is the BS.1770 true peak: the maximum of the signal upsampled 4× with the
polyphase FIR that ``scipy.signal.resample_poly(x, 4, 1)`` uses (Kaiser-windowed sinc, 81 taps),
streamed with a 20-sample history.
"""

from __future__ import annotations

import numpy as np

CHANNEL_WEIGHTS = (1.0, 1.0, 1.0, 1.41, 1.41)  # L, R, C, Ls, Rs (BS.1770)
GATE_SECONDS = 0.4
STEP = 0.25  # gating blocks overlap by 75 %
ABSOLUTE_GATE = -70.0
RELATIVE_GATE = -10.0
OVERSAMPLE = 4


def db(x: float) -> float:
    """20·log10 of a linear amplitude (−inf-safe: floors at −200 dB)."""
    return float(20.0 * np.log10(max(float(x), 1e-10)))


class LoudnessMeter:
    """Integrated loudness of ``[channels, n]`` blocks at ``rate`` (see module docstring)."""

    def __init__(self, *, rate: int, channels: int) -> None:
        import pyloudnorm
        from scipy.signal import lfilter_zi

        self.rate, self.channels = int(rate), int(channels)
        stages = pyloudnorm.Meter(self.rate)._filters.values()  # high shelf, then high pass
        self._stages = [(s.b, s.a, s.passband_gain) for s in stages]
        self._zi = [np.zeros((channels, len(lfilter_zi(b, a)))) for b, a, _ in self._stages]
        self.samples = 0
        self._energy = np.zeros(channels)  # Σ x² of the K-weighted signal so far, per channel
        self._lower: list[np.ndarray] = []  # Σ x² up to each gating block's first sample
        self._upper: list[np.ndarray] = []  # … and up to its end
        self._next = [0, 0]  # next gating block whose lower / upper bound is not yet passed

    def _bound(self, j: int, upper: bool) -> int:
        # pyloudnorm's own arithmetic, so the block edges fall on the same samples
        return int(GATE_SECONDS * (j * STEP + (1 if upper else 0)) * self.rate)

    def add(self, block: np.ndarray) -> None:
        """Feed ``[channels, n]`` samples (any float dtype)."""
        from scipy.signal import lfilter

        x = np.asarray(block, dtype=np.float64)
        n = x.shape[1]
        if n == 0:
            return
        for k, (b, a, gain) in enumerate(self._stages):
            x, self._zi[k] = lfilter(b, a, x, axis=1, zi=self._zi[k])
            x = gain * x
        csum = np.cumsum(x * x, axis=1)
        start, end = self.samples, self.samples + n
        for side, store in ((0, self._lower), (1, self._upper)):
            while (pos := self._bound(self._next[side], side == 1)) <= end:
                store.append(self._energy + (csum[:, pos - start - 1] if pos > start else 0.0))
                self._next[side] += 1
        self._energy = self._energy + csum[:, -1]
        self.samples = end

    def block_energies(self) -> np.ndarray:
        """Mean square ``[channels, blocks]`` of every gating block of the signal so far."""
        span = GATE_SECONDS * self.rate
        count = int(np.round((self.samples / self.rate - GATE_SECONDS) / (GATE_SECONDS * STEP)))
        count += 1
        if count <= 0:
            return np.zeros((self.channels, 0))
        lower = np.array(self._lower[:count]).T
        upper = [self._upper[j] if j < len(self._upper) else self._energy for j in range(count)]
        return (np.array(upper).T - lower) / span

    def integrated(self) -> float | None:
        """Integrated loudness in LUFS; ``None`` below 400 ms or when every block is gated out."""
        if self.samples < GATE_SECONDS * self.rate:
            return None
        z = self.block_energies()
        weights = np.array(CHANNEL_WEIGHTS[: self.channels])[:, None]
        with np.errstate(divide="ignore"):
            level = -0.691 + 10.0 * np.log10((weights * z).sum(axis=0))
            gated = z[:, level >= ABSOLUTE_GATE]
            if gated.shape[1] == 0:
                return None
            relative = -0.691 + 10 * np.log10((weights[:, 0] * gated.mean(axis=1)).sum())
            keep = z[:, (level > relative + RELATIVE_GATE) & (level > ABSOLUTE_GATE)]
            if keep.shape[1] == 0:
                return None
            lufs = -0.691 + 10.0 * np.log10((weights[:, 0] * keep.mean(axis=1)).sum())
        return float(lufs) if np.isfinite(lufs) else None


def oversampling_phases() -> np.ndarray:
    """The 4 polyphase branches ``[4, 21]`` of ``resample_poly(x, 4, 1)``'s filter, each reversed
    so that ``windows @ phases.T`` over 21-sample windows gives the 4 interpolated points."""
    from scipy.signal import firwin

    half = 10 * OVERSAMPLE
    h = firwin(2 * half + 1, 1.0 / OVERSAMPLE, window=("kaiser", 5.0)) * OVERSAMPLE
    taps = (len(h) + OVERSAMPLE - 1) // OVERSAMPLE
    phases = np.zeros((OVERSAMPLE, taps))
    for p in range(OVERSAMPLE):
        branch = h[p::OVERSAMPLE]
        phases[p, : len(branch)] = branch
    return phases[:, ::-1].copy()


HISTORY = 2 * 10  # input samples of context the 21-tap branches need (10 on each side)


class Oversampler:
    """Streaming 4× interpolation: for input samples ``t`` it returns ``|y|`` maxima at
    ``t, t+¼, t+½, t+¾`` — delayed by 10 samples (the filter's half length)."""

    def __init__(self, *, channels: int) -> None:
        self._phases = oversampling_phases()
        self._history = np.zeros((channels, HISTORY))

    def peaks(self, block: np.ndarray) -> np.ndarray:
        """``[n]``: per input sample (10 samples back), the largest interpolated ``|y|`` over all
        channels at the sample and its three points after it."""
        x = np.concatenate([self._history, np.asarray(block, dtype=np.float64)], axis=1)
        self._history = x[:, -HISTORY:]
        peak = np.zeros(x.shape[1] - HISTORY)
        for channel in x:
            for branch in self._phases:  # np.convolve: 5× faster than a strided matmul here
                np.maximum(peak, np.abs(np.convolve(channel, branch[::-1], mode="valid")), out=peak)
        return peak


class TruePeakMeter:
    """The largest 4×-oversampled ``|sample|`` of a stream of ``[channels, n]`` blocks."""

    def __init__(self, *, channels: int) -> None:
        self._over = Oversampler(channels=channels)
        self._channels = channels
        self.peak = 0.0

    def add(self, block: np.ndarray) -> None:
        if block.shape[1]:
            self.peak = max(self.peak, float(self._over.peaks(block).max()))

    def finish(self) -> float:
        """Flush the filter's last 10 samples; returns the true peak (linear)."""
        self.add(np.zeros((self._channels, HISTORY // 2)))
        return self.peak
