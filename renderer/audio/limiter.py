"""A streaming true-peak limiter: 4× oversampled peak detection, look-ahead, smooth gain.

For every sample the detector takes the largest 4×-interpolated ``|x|`` over all channels (the
points from the sample before to the one after it, :class:`~renderer.audio.loudness.Oversampler`)
and the gain that would bring it to the ceiling, ``g_req ≤ 1``. The applied gain is then

1. held: the minimum of ``g_req`` over the next ``L`` samples (look-ahead ``L`` = 2 ms);
2. released: it rises at most :data:`RELEASE_DB_PER_S` (falls at once), a linear-in-dB release;
3. smoothed: a moving average over ``L`` samples, so every gain change is a ramp of at least
   ``L`` samples (a 2-ms attack, no clicks).

Because each value averaged in (3) is the minimum of a window that contains the peak's sample,
the gain applied to a sample is never above its ``g_req``: peaks are limited exactly, with no
overshoot to clip, and the audio is delayed by ``L + 10`` samples, which :meth:`Limiter.flush`
gives back at the end. Channels share one gain (the stereo image stays put). Every stage carries
its state across blocks, so the output is the same for any block size.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import minimum_filter1d

from renderer.audio.loudness import HISTORY, Oversampler

LOOKAHEAD_S = 0.002
RELEASE_DB_PER_S = 120.0  # recovers 6 dB in 50 ms
FILTER_DELAY = HISTORY // 2  # the oversampler's centre lag


class Limiter:
    """Limit ``[channels, n]`` blocks at ``rate`` to a true peak of ``ceiling`` (linear)."""

    def __init__(self, *, rate: int, channels: int, ceiling: float) -> None:
        self.channels = channels
        self.ceiling = float(ceiling)
        self.lookahead = max(2, int(round(LOOKAHEAD_S * rate)))
        self._release = RELEASE_DB_PER_S / rate  # dB per sample
        self._over = Oversampler(channels=channels)
        self._last_peak = 0.0  # detector value of the previous sample (the points before it)
        self._req = np.zeros(self.lookahead - 1)  # last L-1 required gains (dB)
        self._rel_prev = 0.0  # released gain (dB) of the previous sample
        self._rel = np.ones(self.lookahead - 1)  # last L-1 released gains (linear)
        self._delay = np.zeros((channels, FILTER_DELAY + self.lookahead - 1))
        self._fed = 0
        self._given = 0
        self.min_gain = 1.0  # the deepest gain reduction so far (linear)

    @property
    def latency(self) -> int:
        """Samples between a sample going in and coming out."""
        return FILTER_DELAY + self.lookahead - 1

    def process(self, block: np.ndarray) -> np.ndarray:
        """Feed ``[channels, n]``; returns the limited samples ready so far (``latency`` behind)."""
        x = np.asarray(block, dtype=np.float64)
        n = x.shape[1]
        if n == 0:
            return np.zeros((self.channels, 0))
        self._fed += n
        peaks = self._over.peaks(x)  # sample times S-10 … S+n-11 for a block starting at S
        both = np.maximum(peaks, np.concatenate([[self._last_peak], peaks[:-1]]))
        self._last_peak = float(peaks[-1])
        req = np.minimum(0.0, 20.0 * np.log10(self.ceiling / np.maximum(both, 1e-12)))
        L = self.lookahead
        # 1. hold: the minimum of the last L required gains
        buf = np.concatenate([self._req, req])
        held = minimum_filter1d(buf, size=L, mode="nearest")[L // 2 : L // 2 + n]
        self._req = buf[len(buf) - (L - 1) :]
        # 2. release: y[k] = min(held[k], y[k-1] + r), in closed form
        ramp = np.arange(1, n + 1) * self._release
        rel = np.minimum(np.minimum.accumulate(held - ramp) + ramp, self._rel_prev + ramp)
        self._rel_prev = float(rel[-1])
        # 3. smooth: the mean of L released gains is the gain of the window's first sample
        lin = np.concatenate([self._rel, 10.0 ** (rel / 20.0)])
        csum = np.concatenate([[0.0], np.cumsum(lin)])
        gain = (csum[L:] - csum[:-L]) / L  # samples S-latency … S+n-1-latency
        self._rel = lin[len(lin) - (L - 1) :]
        pending = np.concatenate([self._delay, x], axis=1)
        out = pending[:, :n] * gain[None, :]
        self._delay = pending[:, n:]
        skip = max(0, self.latency - self._given)  # the primed delay line's zeros
        self._given += n
        if skip < n:
            self.min_gain = min(self.min_gain, float(gain[skip:].min()))
        return out[:, skip:]

    def flush(self) -> np.ndarray:
        """The last ``latency`` samples, pushed out with silence: in total, the input's length."""
        owed = self._fed - max(0, self._given - self.latency)
        tail = self.process(np.zeros((self.channels, self.latency)))
        return tail[:, :owed]
