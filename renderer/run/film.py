"""``album.mp4``: every finished track's video stream-copied end to end, ONE continuous audio
stream and one chapter per track.

Why one audio encode: concatenating the per-track AAC streams would insert encoder priming/padding
gaps at every boundary, so the tracks' mastered PCM (already loudness-normalised to the same
target by :mod:`renderer.audio.master`) is joined into one WAV and encoded once by the mux.
The WAV is written block by block, so memory stays flat however long the album is.

Why video-only copies: the concat demuxer offsets each file by its *file* start time, the earliest
of all its streams. In a finished track that is the AAC stream's priming (−1024 samples,
−21.33 ms), so the concatenated picture started 21.35 ms after the sound (an empty edit in the
film's video track). Each track's video is therefore first stream-copied into a video-only file
(:func:`video_only`), whose start is the picture's own, and the film is built from those plus the
one audio stream: both start at 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

BLOCK = 1 << 16  # samples per read/write block


@dataclass(frozen=True)
class FilmPart:
    """One track of the film: its muxed video, its mastered WAV and its exact video duration."""

    video: Path
    audio: Path
    duration: float  # seconds = n_frames / fps
    title: str


def join_audio(parts: Sequence[FilmPart], out: Path, *, sample_rate: int) -> float:
    """Write the parts' audio back to back into ``out`` (PCM_24 stereo), each trimmed or padded
    with silence to its video duration so chapter times and picture stay in sync. Returns the
    total duration in seconds."""
    import soundfile as sf

    out.parent.mkdir(parents=True, exist_ok=True)
    total = 0
    with sf.SoundFile(str(out), "w", samplerate=sample_rate, channels=2, subtype="PCM_24") as dst:
        for part in parts:
            want = int(round(part.duration * sample_rate))
            written = 0
            with sf.SoundFile(str(part.audio)) as src:
                if src.samplerate != sample_rate:
                    raise ValueError(
                        f"{part.audio}: sample rate {src.samplerate}, album film needs {sample_rate}"
                    )
                while written < want:
                    block = src.read(min(BLOCK, want - written), dtype="float32", always_2d=True)
                    if not len(block):
                        break
                    if block.shape[1] == 1:
                        block = np.repeat(block, 2, axis=1)
                    dst.write(block[:, :2])
                    written += len(block)
            if written < want:  # the mastered audio was shorter than the picture
                dst.write(np.zeros((want - written, 2), np.float32))
            total += want
    return total / sample_rate


def video_only(src: Path, out: Path, *, ffmpeg_path: str | None = None) -> Path:
    """Stream-copy the first video stream of ``src`` into ``out`` (no audio, no data streams,
    bit-exact container), so its timeline starts with its first picture."""
    from renderer.encode.ffmpeg_bin import find_ffmpeg
    from renderer.encode.ffmpeg_proc import ffmpeg_to

    args = ["-i", str(src), "-map", "0:v:0", "-c:v", "copy", "-an", "-sn", "-dn",
            "-map_metadata", "-1", "-map_chapters", "-1", "-fflags", "+bitexact"]  # fmt: skip
    return ffmpeg_to(find_ffmpeg(ffmpeg_path), out, args,
                     what=f"video of {src.name} for the album film")  # fmt: skip


def build_album_film(
    parts: Sequence[FilmPart],
    out: Path,
    *,
    work_dir: Path,
    profile: str = "youtube",
    sample_rate: int = 48000,
    ffmpeg_path: str | None = None,
    title: str = "noise-to-signal",
) -> Path | None:
    """Concatenate ``parts`` into ``out`` with chapters; ``None`` when there is nothing to join.

    ``work_dir`` (inside the run directory) receives the joined ``album.wav`` and, while the film
    is built, the tracks' video-only copies (removed afterwards).
    """
    from renderer.encode.mux import Chapter, concat_and_mux

    if not parts:
        return None
    chapters, t = [], 0.0
    for part in parts:
        chapters.append(Chapter(t, t + part.duration, part.title))
        t += part.duration
    join_audio(parts, work_dir / "album.wav", sample_rate=sample_rate)
    videos = [
        work_dir / f"{out.stem}.video{i:04d}{Path(p.video).suffix}" for i, p in enumerate(parts)
    ]
    try:
        for part, video in zip(parts, videos, strict=True):
            video_only(Path(part.video), video, ffmpeg_path=ffmpeg_path)
        return concat_and_mux(
            videos,
            work_dir / "album.wav",
            out,
            profile=profile,
            chapters=chapters,
            ffmpeg_path=ffmpeg_path,
            duration=t,
            title=title,
        )
    finally:
        for video in videos:
            video.unlink(missing_ok=True)
