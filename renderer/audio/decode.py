"""Audio in, streamed: any local file (libsndfile, else FFmpeg restricted to local files) decoded
block by block to float32 ``[channels, n]``, validated as it goes; the whole file or an error
naming it, never a silent partial read. No caller holds more than a block of decoded audio
(:func:`load_audio`, the whole file in memory, is kept for tests and short clips).
"""

from __future__ import annotations

import hashlib
import subprocess
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from renderer.errors import AudioError

_NATIVE_FORMATS = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"}
BLOCK_FRAMES = 1 << 16  # decoded frames per block: 1.4 s at 48 kHz, 0.5 MB of stereo float32


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


class AudioWarning(UserWarning):
    """A problem with an input file that did not stop its render (recorded in ``meta.json``)."""


def _container_seconds(probe: str) -> float | None:
    """``Duration: HH:MM:SS.ss`` from FFmpeg's stream listing (``None`` when it states none)."""
    for line in probe.splitlines():
        line = line.strip()
        if line.startswith("Duration:") and not line.startswith("Duration: N/A"):
            h, m, sec = line.split(",", 1)[0].split()[1].split(":")
            return 3600 * int(h) + 60 * int(m) + float(sec)
    return None


def _duration_tolerance(seconds: float) -> float:
    """How far a decode may differ from the container's duration (encoder padding, VBR headers)."""
    return max(0.5, 0.02 * seconds)


def _probe(path: Path) -> tuple[int, int, float | None]:
    """``(sample rate, channels, container seconds)`` of the first audio stream, per FFmpeg."""
    from renderer.encode.ffmpeg_bin import find_ffmpeg

    probe = subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-protocol_whitelist", "file", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    ).stderr
    for line in probe.splitlines():
        if "Audio:" in line:
            sr = 44100
            for part in (p.strip() for p in line.split("Audio:", 1)[1].split(",")):
                if part.endswith(" Hz"):
                    sr = int(part.split()[0])
            return sr, 1 if "mono" in line else 2, _container_seconds(probe)
    raise AudioError(f"{path}: no audio stream found ({probe.strip().splitlines()[-1:]})")


def _ffmpeg_blocks(
    path: Path, *, sr: int, channels: int, stated: float | None, frames: int, skip: int, note: str
) -> Iterator[np.ndarray]:
    """FFmpeg's decode of ``path`` (local files only), piped in blocks of ``frames``; the first
    ``skip`` frames are dropped (what libsndfile already gave before it stopped).

    A decode that ends well short of the container's duration raises :class:`AudioError`; decode
    errors FFmpeg worked around (damaged frames) or a duration that disagrees with the
    container's give an :class:`AudioWarning` naming the file, ``note`` first (why FFmpeg).
    """
    from renderer.encode.ffmpeg_bin import find_ffmpeg
    from renderer.encode.ffmpeg_proc import StderrDrain, child_kwargs, reap

    argv = [
        find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-protocol_whitelist", "file,pipe",   # never reach the network, even for playlists
        "-i", str(path),
        "-f", "f32le", "-ac", str(channels), "-ar", str(sr), "pipe:1",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, **child_kwargs())  # fmt: skip
    drain = StderrDrain(proc.stderr, maxlen=1000)
    total, width = 0, 4 * channels
    try:
        while raw := proc.stdout.read(frames * width):
            data = np.frombuffer(raw[: len(raw) // width * width], np.float32)
            block = data.reshape(-1, channels).T
            start = max(0, skip - total)
            total += block.shape[1]
            if start < block.shape[1]:
                yield np.ascontiguousarray(block[:, start:])
        rc = proc.wait()
    finally:
        reap(proc)
    errors = [ln for ln in drain.tail(n=1000).splitlines() if ln.strip()]
    if rc != 0:
        raise AudioError(f"{path}: FFmpeg could not decode it ({' '.join(errors)[-200:]})")
    decoded = total / sr
    if stated and decoded < stated - _duration_tolerance(stated):
        raise AudioError(f"{path}: damaged: only {decoded:.1f} s of the {stated:.1f} s its "
                         "container states could be decoded")  # fmt: skip
    if errors or note or (stated and abs(decoded - stated) > _duration_tolerance(stated)):
        stated_text = f"{stated:.1f} s" if stated else "no duration"
        warnings.warn(AudioWarning(
            f"{path}: damaged or unusual audio: {note}FFmpeg decoded {decoded:.1f} s (the "
            f"container states {stated_text}) with {len(errors)} decode error(s); rendering "
            "what was decoded"), stacklevel=3)  # fmt: skip


class AudioStream:
    """A local audio file opened for block-wise decoding.

    ``sample_rate`` and ``channels`` are known on opening; :meth:`blocks` decodes (again, on every
    call) from the start. Raises :class:`AudioError` naming the file for a missing, empty,
    corrupt or too-short file, or one containing NaN/inf samples (the last two while streaming).
    """

    def __init__(self, path: str | Path) -> None:
        import soundfile as sf

        self.path = Path(path)
        if not self.path.is_file():
            raise AudioError(f"{self.path}: audio file not found")
        if self.path.stat().st_size == 0:
            raise AudioError(f"{self.path}: audio file is empty (0 bytes)")
        self._stated: float | None = None
        self._native = False
        if self.path.suffix.lower() in _NATIVE_FORMATS:
            try:
                info = sf.info(str(self.path))
                self.sample_rate, self.channels = int(info.samplerate), int(info.channels)
                self._native, self._frames = True, int(info.frames)
            except (RuntimeError, sf.LibsndfileError, ValueError):
                self._native = False
        if not self._native:
            self.sample_rate, self.channels, self._stated = _probe(self.path)

    @property
    def stated_seconds(self) -> float | None:
        """The duration the file's header states (``None`` when it states none)."""
        if self._native:
            return self._frames / self.sample_rate if self._frames > 0 else None
        return self._stated

    def blocks(self, *, frames: int = BLOCK_FRAMES) -> Iterator[np.ndarray]:
        """Decoded float32 blocks ``[channels, ≤ frames]``, finite, in order, to the file's end."""
        total = 0
        for block in self._raw_blocks(frames):
            if not np.all(np.isfinite(block)):
                raise AudioError(f"{self.path}: contains NaN or infinite samples")
            total += block.shape[1]
            yield block
        if total < 2:
            raise AudioError(f"{self.path}: too short to analyse ({total} sample(s))")

    def _raw_blocks(self, frames: int) -> Iterator[np.ndarray]:
        import soundfile as sf

        done, note = 0, ""
        if self._native:
            try:
                with sf.SoundFile(str(self.path)) as fh:
                    while (raw := fh.read(frames, dtype="float32", always_2d=True)).size:
                        done += raw.shape[0]
                        yield np.ascontiguousarray(raw.T)
                sr = self.sample_rate
                if self._frames <= 0 or done >= self._frames - _duration_tolerance(
                    self._frames / sr) * sr:  # fmt: skip
                    return
                # libsndfile (mpg123) gives up at damage and returns what it read so far
                note = f"libsndfile stopped after {done / sr:.1f} s of {self._frames / sr:.1f} s; "
            except (RuntimeError, sf.LibsndfileError, ValueError) as exc:
                if done == 0:
                    note = ""
                else:
                    note = f"libsndfile failed after {done / self.sample_rate:.1f} s ({exc}); "
            _, _, self._stated = _probe(self.path)
        # FFmpeg's decode continues where libsndfile stopped (the two agree sample for sample on
        # the files both read, e.g. MP3 with its encoder delay removed)
        yield from _ffmpeg_blocks(self.path, sr=self.sample_rate, channels=self.channels,
                                  stated=self._stated, frames=frames, skip=done, note=note)  # fmt: skip


def fold_channels(block: np.ndarray, *, mono: bool) -> np.ndarray:
    """``[C, n]`` → mono ``[1, n]`` (mean) or stereo ``[2, n]`` (mono duplicated; more channels
    folded L R L R …)."""
    if mono:
        return block if block.shape[0] == 1 else block.mean(axis=0, keepdims=True)
    if block.shape[0] == 1:
        return np.repeat(block, 2, axis=0)
    if block.shape[0] > 2:
        return np.stack([block[0::2].mean(axis=0), block[1::2].mean(axis=0)])
    return block


def resample_blocks(
    blocks: Iterator[np.ndarray], *, sr_in: int, sr_out: int, channels: int
) -> Iterator[np.ndarray]:
    """Resample a stream of ``[channels, n]`` blocks with soxr's streaming "HQ" resampler.

    The result equals ``librosa.resample(y, res_type="soxr_hq")`` of the whole signal, length
    ``ceil(N · sr_out / sr_in)`` included; one output block is held back to fix that length.
    """
    if sr_in == sr_out:
        yield from blocks
        return
    import soxr

    stream = soxr.ResampleStream(sr_in, sr_out, channels, dtype="float32", quality="HQ")
    n_in = n_out = 0
    held: np.ndarray | None = None
    for block in blocks:
        n_in += block.shape[1]
        out = stream.resample_chunk(np.ascontiguousarray(block.T), last=False)
        if out.shape[0]:
            if held is not None:
                yield held
            held = np.ascontiguousarray(out.T)
            n_out += out.shape[0]
    tail = stream.resample_chunk(np.zeros((0, channels), np.float32), last=True).T
    held = tail if held is None else np.concatenate([held, tail], axis=1)
    n_out += tail.shape[1]
    want = int(np.ceil(n_in * sr_out / sr_in))
    if n_out > want:
        held = held[:, : held.shape[1] - (n_out - want)]
    elif n_out < want:
        held = np.pad(held, ((0, 0), (0, want - n_out)))
    if held.shape[1]:
        yield np.ascontiguousarray(held, dtype=np.float32)


def stream_audio(
    path: str | Path, *, sr: int | None = None, mono: bool = False, stereo: bool = False,
    frames: int = BLOCK_FRAMES,
) -> tuple[Iterator[np.ndarray], int]:  # fmt: skip
    """``(blocks, rate)``: the file's float32 blocks ``[C, n]``, optionally downmixed (``mono``) or
    folded to two channels (``stereo``), then resampled to ``sr``."""
    source = AudioStream(path)
    blocks: Iterator[np.ndarray] = source.blocks(frames=frames)
    channels = source.channels
    if mono or stereo:
        blocks = (fold_channels(b, mono=mono) for b in blocks)
        channels = 1 if mono else 2
    rate = source.sample_rate if sr is None else int(sr)
    return resample_blocks(blocks, sr_in=source.sample_rate, sr_out=rate, channels=channels), rate


def load_audio(
    path: str | Path, *, sr: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """The whole file as float32 ``[channels, samples]`` (optionally resampled / downmixed).

    For tests and short clips: the render streams (:func:`stream_audio`) instead.
    """
    blocks, rate = stream_audio(path, sr=sr, mono=mono)
    data = np.concatenate(list(blocks), axis=1)
    return np.ascontiguousarray(data, dtype=np.float32), rate
