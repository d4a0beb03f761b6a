"""Probe media files with FFmpeg alone (the bundled FFmpeg has no ffprobe).

Two passes:

1. ``ffmpeg -i FILE`` (no output; exits 1 by design) prints the stream headers on stderr: codec
   names, frame size, sample rate.
2. ``ffmpeg -i FILE -c:v copy -c:a pcm_s16le -f framemd5 -`` lists every video *packet* (stream
   copy: no decoding) and every *decoded* audio frame with timestamp and duration. Decoding the
   audio applies the container's edit list (encoder priming and end padding), so the audio duration
   is what a player plays, which is what "video and audio agree within 5 ms" is about.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from renderer.errors import FFmpegError
from renderer.ffmpeg_bin import find_ffmpeg

_STREAM_RE = re.compile(r"Stream #0:(\d+)[^:]*: (Video|Audio): (\w+)(.*)")
_SIZE_RE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_RATE_RE = re.compile(r"(\d+) Hz")
_FPS_RE = re.compile(r"([\d.]+) (?:fps|tbr)")
_TB_RE = re.compile(r"^#tb (\d+): (\d+)/(\d+)")
_CHAPTER_RE = re.compile(r"Chapter #0:\d+: start (-?[\d.]+), end (-?[\d.]+)")
_TITLE_RE = re.compile(r"^\s+title\s+: (.*)$")


def _headers(ffmpeg: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-protocol_whitelist", "file,pipe", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
    )
    info: dict[str, Any] = {
        "video_codec": None,
        "audio_codec": None,
        "width": None,
        "height": None,
        "fps": None,
        "sample_rate": None,
        "video_index": None,
        "audio_index": None,
        "chapters": [],
    }
    if "Input #0" not in proc.stderr:
        tail = "\n".join(proc.stderr.strip().splitlines()[-3:])
        raise FFmpegError(f"{path}: FFmpeg cannot read this file:\n{tail}")
    in_chapter = False  # a "title" line belongs to the chapter header above it
    for line in proc.stderr.splitlines():
        if chapter := _CHAPTER_RE.search(line):
            info["chapters"].append([float(chapter[1]), float(chapter[2]), ""])
            in_chapter = True
            continue
        if in_chapter and (title := _TITLE_RE.match(line)):
            info["chapters"][-1][2] = title[1]
            continue
        in_chapter = in_chapter and "Stream #" not in line
        match = _STREAM_RE.search(line)
        if not match:
            continue
        index, kind, codec, rest = int(match[1]), match[2], match[3], match[4]
        if kind == "Video" and info["video_codec"] is None:
            info.update(video_codec=codec, video_index=index)
            if size := _SIZE_RE.search(rest):
                info.update(width=int(size[1]), height=int(size[2]))
            if fps := _FPS_RE.search(rest):
                info["fps"] = float(fps[1])
        elif kind == "Audio" and info["audio_codec"] is None:
            info.update(audio_codec=codec, audio_index=index)
            if rate := _RATE_RE.search(rest):
                info["sample_rate"] = int(rate[1])
    return info


def _packet_table(ffmpeg: str, path: Path, *, video: bool, audio: bool) -> dict[int, Any]:
    """Per output stream: (time base, [(pts, duration), …]) from the framemd5 muxer."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error"]
    argv += ["-protocol_whitelist", "file,pipe", "-i", str(path)]
    if video:
        argv += ["-map", "0:v:0", "-c:v", "copy"]
    if audio:
        argv += ["-map", "0:a:0", "-c:a", "pcm_s16le"]
    argv += ["-f", "framemd5", "-"]
    proc = subprocess.run(argv, capture_output=True, text=True, errors="replace", check=False)
    if proc.returncode != 0:
        raise FFmpegError(f"{path}: FFmpeg could not read the streams:\n{proc.stderr[-800:]}")
    table: dict[int, Any] = {}
    for line in proc.stdout.splitlines():
        if match := _TB_RE.match(line):
            table[int(match[1])] = (Fraction(int(match[2]), int(match[3])), [])
        elif line and not line.startswith("#"):
            # stream, dts, pts, duration, size, hash
            fields = [f.strip() for f in line.split(",")]
            table[int(fields[0])][1].append((int(fields[2]), int(fields[3])))
    return table


def _span(tb: Fraction, packets: list[tuple[int, int]]) -> float:
    if not packets:
        return 0.0
    start = min(p for p, _ in packets)
    end = max(p + d for p, d in packets)
    return float((end - start) * tb)


def probe_media(path: str | Path, *, ffmpeg_path: str | None = None) -> dict[str, Any]:
    """Durations, frame count, size and codecs of a media file.

    Returns ``{"video_duration", "audio_duration", "frames", "width", "height", "fps",
    "video_codec", "audio_codec", "sample_rate", "chapters"}`` (chapters: ``(start, end, title)``); durations in seconds (0.0 and ``frames=0`` for a
    missing stream; codecs ``None``). Raises :class:`FFmpegError` naming the file if it is missing
    or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise FFmpegError(f"{path}: no such file to probe")
    ffmpeg = find_ffmpeg(ffmpeg_path)
    info = _headers(ffmpeg, path)
    has_video = info["video_codec"] is not None
    has_audio = info["audio_codec"] is not None
    table = (
        _packet_table(ffmpeg, path, video=has_video, audio=has_audio)
        if has_video or has_audio
        else {}
    )
    video = table.get(0) if has_video else None
    audio = table.get(1 if has_video else 0) if has_audio else None
    return {
        "video_duration": _span(*video) if video else 0.0,
        "audio_duration": _span(*audio) if audio else 0.0,
        "frames": len(video[1]) if video else 0,
        "width": info["width"],
        "height": info["height"],
        "fps": info["fps"],
        "video_codec": info["video_codec"],
        "audio_codec": info["audio_codec"],
        "sample_rate": info["sample_rate"],
        "chapters": [tuple(c) for c in info["chapters"]],
    }


def decode_video(
    path: str | Path,
    *,
    vf: str,
    size: tuple[int, int],
    channels: int,
    ffmpeg_path: str | Path | None = None,
    passthrough: bool = False,
) -> np.ndarray:
    """Decode the first video stream through the filter chain ``vf`` (which must end at ``size``
    = (W, H) in a pixel format of ``channels`` bytes per pixel) into uint8 ``[N, H, W, channels]``."""
    width, height = size
    argv = [
        str(find_ffmpeg(ffmpeg_path)),
        "-nostdin",
        "-v", "error",
        "-protocol_whitelist", "file,pipe",
        "-i", str(path),
        "-map", "0:v:0",
        "-vf", vf,
        *(["-fps_mode", "passthrough"] if passthrough else []),
        "-f", "rawvideo",
        "-",
    ]  # fmt: skip
    proc = subprocess.run(argv, capture_output=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.decode(errors="replace").strip()[-800:]
        raise FFmpegError(f"{path}: ffmpeg could not decode the video: {tail}")
    frame_bytes = width * height * channels
    count = len(proc.stdout) // frame_bytes
    frames = np.frombuffer(proc.stdout[: count * frame_bytes], np.uint8)
    return frames.reshape(count, height, width, channels)


def read_frames(
    path: str | Path,
    indices: Sequence[int],
    *,
    size: tuple[int, int],
    ffmpeg_path: str | None = None,
) -> dict[int, np.ndarray]:
    """Decode the frames with the given 0-based ``indices`` of a video as uint8 RGB ``[H, W, 3]``
    (scaled to ``size = (W, H)`` if needed); indices past the end are missing from the result."""
    wanted = sorted({int(i) for i in indices if int(i) >= 0})
    if not wanted:
        return {}
    select = "+".join(f"eq(n\\,{i})" for i in wanted)
    frames = decode_video(path, vf=f"select={select},scale={size[0]}:{size[1]},format=rgb24",
                          size=size, channels=3, ffmpeg_path=ffmpeg_path, passthrough=True)  # fmt: skip
    return {index: frames[k].copy() for k, index in enumerate(wanted[: len(frames)])}
