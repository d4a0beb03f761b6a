"""Audio in: decode any local file (libsndfile, else FFmpeg restricted to local files) to float32,
validate it, downmix and resample; the whole file or an error naming it, never a silent partial
read. The most recent decode is memoised so features and analysis of one track share it."""

from __future__ import annotations

import hashlib
import subprocess
import warnings
from pathlib import Path

import numpy as np

from renderer.errors import AudioError

_NATIVE_FORMATS = {".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff"}


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


def _decode_with_ffmpeg(path: Path, *, note: str = "") -> tuple[np.ndarray, int]:
    """Decode any format FFmpeg knows to float32 [C, N]; local files only (no network protocols).

    Decodes the whole file or fails: a decode that ends well short of the duration the container
    states raises :class:`AudioError`; decode errors FFmpeg worked around (damaged frames) or a
    duration that disagrees with the container's give an :class:`AudioWarning` naming the file.
    ``note`` is prepended to that warning (why FFmpeg was asked).
    """
    from renderer.encode.ffmpeg_bin import find_ffmpeg

    probe = subprocess.run(
        [find_ffmpeg(), "-hide_banner", "-protocol_whitelist", "file", "-i", str(path)],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    ).stderr
    sr, channels = 44100, 2
    for line in probe.splitlines():
        if "Audio:" in line:
            parts = [p.strip() for p in line.split("Audio:", 1)[1].split(",")]
            for part in parts:
                if part.endswith(" Hz"):
                    sr = int(part.split()[0])
            channels = 1 if "mono" in line else 2
            break
    else:
        raise AudioError(f"{path}: no audio stream found ({probe.strip().splitlines()[-1:]})")
    argv = [
        find_ffmpeg(), "-hide_banner", "-loglevel", "error", "-nostdin",
        "-protocol_whitelist", "file,pipe",   # never reach the network, even for playlists
        "-i", str(path),
        "-f", "f32le", "-ac", str(channels), "-ar", str(sr), "pipe:1",
    ]  # fmt: skip
    result = subprocess.run(argv, capture_output=True, check=False, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise AudioError(f"{path}: FFmpeg could not decode it ({result.stderr.decode()[-200:]})")
    data = np.frombuffer(result.stdout, dtype=np.float32).reshape(-1, channels).T.copy()
    decoded, stated = data.shape[1] / sr, _container_seconds(probe)
    if stated and decoded < stated - _duration_tolerance(stated):
        raise AudioError(f"{path}: damaged: only {decoded:.1f} s of the {stated:.1f} s its "
                         "container states could be decoded")  # fmt: skip
    errors = [ln for ln in result.stderr.decode(errors="replace").splitlines() if ln.strip()]
    if errors or (stated and abs(decoded - stated) > _duration_tolerance(stated)):
        stated_text = f"{stated:.1f} s" if stated else "no duration"
        warnings.warn(AudioWarning(
            f"{path}: damaged or unusual audio: {note}FFmpeg decoded {decoded:.1f} s (the "
            f"container states {stated_text}) with {len(errors)} decode error(s); rendering "
            "what was decoded"), stacklevel=2)  # fmt: skip
    return data, sr


# The last decoded file, so features and analysis of one track decode and resample it only once.
_LAST_LOAD: dict[tuple, tuple[np.ndarray, int]] = {}


def load_audio(
    path: str | Path, *, sr: int | None = None, mono: bool = False
) -> tuple[np.ndarray, int]:
    """Load an audio file as float32 ``[channels, samples]``; optionally resample / downmix.

    The most recent result is memoised by (path, size, mtime, sr, mono); callers get a copy.
    """
    path = Path(path)
    try:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns, sr, mono)
    except OSError:
        key = None
    if key is not None and key in _LAST_LOAD:
        data, rate = _LAST_LOAD[key]
        return data.copy(), rate
    data, rate = _load_audio_uncached(path, sr=sr, mono=mono)
    if key is not None:
        _LAST_LOAD.clear()
        _LAST_LOAD[key] = (data, rate)
    return data.copy(), rate


def _load_audio_uncached(path: Path, *, sr: int | None, mono: bool) -> tuple[np.ndarray, int]:
    """Decode, validate, downmix and resample one file (see :func:`load_audio`).

    WAV/FLAC/OGG/MP3 are read with libsndfile; anything else (or a file libsndfile rejects) is
    decoded with FFmpeg restricted to local files. Raises :class:`AudioError` naming the file for a
    missing, empty, corrupt or too-short file, or one containing NaN/inf samples.
    """
    import soundfile as sf

    path = Path(path)
    if not path.is_file():
        raise AudioError(f"{path}: audio file not found")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: audio file is empty (0 bytes)")
    data: np.ndarray | None = None
    note = ""
    try:
        if path.suffix.lower() in _NATIVE_FORMATS:
            raw, native_sr = sf.read(str(path), dtype="float32", always_2d=True)
            stated = sf.info(str(path)).frames
            data = raw.T
            if (
                stated > 0
                and len(raw) < stated - _duration_tolerance(stated / native_sr) * native_sr
            ):
                # libsndfile (mpg123) gives up at damage and returns what it read so far
                note = (f"libsndfile stopped after {len(raw) / native_sr:.1f} s of "
                        f"{stated / native_sr:.1f} s; ")  # fmt: skip
                data = None
    except (RuntimeError, sf.LibsndfileError, ValueError):
        data = None
    if data is None:
        data, native_sr = _decode_with_ffmpeg(path, note=note)
    if data.shape[1] < 2:
        raise AudioError(f"{path}: too short to analyse ({data.shape[1]} sample(s))")
    if not np.all(np.isfinite(data)):
        raise AudioError(f"{path}: contains NaN or infinite samples")
    if mono and data.shape[0] > 1:
        data = data.mean(axis=0, keepdims=True)
    if sr is not None and sr != native_sr:
        import librosa

        data = librosa.resample(data, orig_sr=native_sr, target_sr=sr, res_type="soxr_hq")
        native_sr = sr
    return np.ascontiguousarray(data, dtype=np.float32), int(native_sr)
