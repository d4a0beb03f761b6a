"""Probe media files with FFmpeg alone (the bundled FFmpeg has no ffprobe).

Two passes:

1. ``ffmpeg -i FILE`` (no output; exits 1 by design) prints the stream headers on stderr: codec
   names, frame size, sample rate.
2. ``ffmpeg -i FILE -c:v copy -c:a pcm_s16le -f framecrc -`` lists every video *packet* (stream
   copy: no decoding) with its timestamp, duration and key-frame flag, and every *decoded* audio
   frame with timestamp and duration. Decoding the
   audio applies the container's edit list (encoder priming and end padding), so the audio duration
   is what a player plays, which is what "video and audio agree within 5 ms" is about.

An FFmpeg killed by a signal (SIGKILL, the OOM killer) is reported as such, never as an unreadable
file: the file may be perfectly fine.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.ffmpeg_proc import child_kwargs, describe_exit
from renderer.errors import FFmpegError

_STREAM_RE = re.compile(r"Stream #0:(\d+)[^:]*: (Video|Audio): (\w+)(.*)")
_SIZE_RE = re.compile(r"\b(\d{2,5})x(\d{2,5})\b")
_RATE_RE = re.compile(r"(\d+) Hz")
_FPS_RE = re.compile(r"([\d.]+) (?:fps|tbr)")
_TB_RE = re.compile(r"^#tb (\d+): (\d+)/(\d+)")
_CHAPTER_RE = re.compile(r"Chapter #0:\d+: start (-?[\d.]+), end (-?[\d.]+)")
_TITLE_RE = re.compile(r"^\s+title\s+: (.*)$")
_TAG_RE = re.compile(r"^ {4}(\S.*?)\s*: (.*)$")  # a global tag under "Input #0" / "  Metadata:"
_TAG_MORE_RE = re.compile(r"^ {5,}: (.*)$")  # continuation line of a multi-line tag value


def _killed(path: Path, rc: int, doing: str) -> FFmpegError:
    """The error for a probe/decode whose FFmpeg was killed: says so, blames nothing on the file."""
    return FFmpegError(
        f"{path}: {describe_exit(rc)} while {doing}; that says nothing about the file itself"
    )


def _headers(ffmpeg: str, path: Path) -> dict[str, Any]:
    proc = subprocess.run(
        [ffmpeg, "-hide_banner", "-nostdin", "-protocol_whitelist", "file,pipe", "-i", str(path)],
        capture_output=True,
        text=True,
        errors="replace",
        check=False,
        **child_kwargs(),
    )
    if proc.returncode < 0:
        raise _killed(path, proc.returncode, "reading the headers")
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
        "tags": {},
    }
    if "Input #0" not in proc.stderr:
        tail = "\n".join(proc.stderr.strip().splitlines()[-3:])
        raise FFmpegError(f"{path}: FFmpeg cannot read this file:\n{tail}")
    in_chapter = False  # a "title" line belongs to the chapter header above it
    in_global = False  # inside the "  Metadata:" block of "Input #0" (the file's own tags)
    last_tag = None
    for line in proc.stderr.splitlines():
        if line.startswith("Input #0"):
            in_global = True
            continue
        if in_global:
            if (more := _TAG_MORE_RE.match(line)) and last_tag:
                info["tags"][last_tag] += "\n" + more[1]
                continue
            if tag := _TAG_RE.match(line):
                last_tag = tag[1].lower()
                info["tags"][last_tag] = tag[2]
                continue
            in_global = line.strip() == "Metadata:"
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
    """Per output stream: (time base, [(pts, duration, key), …]) from the framecrc muxer.

    ``-copyts`` keeps the container's timestamps, so a stream that starts late (an empty edit)
    shows up as a late first timestamp."""
    argv = [ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-copyts"]
    argv += ["-protocol_whitelist", "file,pipe", "-i", str(path)]
    if video:
        argv += ["-map", "0:v:0", "-c:v", "copy"]
    if audio:
        argv += ["-map", "0:a:0", "-c:a", "pcm_s16le"]
    argv += ["-f", "framecrc", "-"]
    proc = subprocess.run(
        argv, capture_output=True, text=True, errors="replace", check=False, **child_kwargs()
    )
    if proc.returncode < 0:
        raise _killed(path, proc.returncode, "reading the streams")
    if proc.returncode != 0:
        raise FFmpegError(f"{path}: FFmpeg could not read the streams:\n{proc.stderr[-800:]}")
    table: dict[int, Any] = {}
    for line in proc.stdout.splitlines():
        if match := _TB_RE.match(line):
            table[int(match[1])] = (Fraction(int(match[2]), int(match[3])), [])
        elif line and not line.startswith("#"):
            # stream, dts, pts, duration, size, crc[, F=flags] (flags only when not just "key")
            fields = [f.strip() for f in line.split(",")]
            flags = next((int(f[2:], 16) for f in fields[6:] if f.startswith("F=")), 1)
            table[int(fields[0])][1].append((int(fields[2]), int(fields[3]), bool(flags & 1)))
    return table


def _span(tb: Fraction, packets: list[tuple[int, int, bool]]) -> float:
    if not packets:
        return 0.0
    start = min(p for p, _, _ in packets)
    end = max(p + d for p, d, _ in packets)
    return float((end - start) * tb)


def _start(tb: Fraction, packets: list[tuple[int, int, bool]]) -> float | None:
    return float(min(p for p, _, _ in packets) * tb) if packets else None


def _key_frames(packets: list[tuple[int, int, bool]]) -> list[int]:
    """0-based display-order indices of the key frames (packets sorted by pts)."""
    ordered = sorted(packets)
    return [i for i, (_, _, key) in enumerate(ordered) if key]


def probe_media(path: str | Path, *, ffmpeg_path: str | None = None) -> dict[str, Any]:
    """Durations, frame count, size and codecs of a media file.

    Returns ``{"video_duration", "audio_duration", "frames", "width", "height", "fps",
    "video_codec", "audio_codec", "sample_rate", "chapters", "tags", "video_start",
    "audio_start", "key_frames"}``: chapters as ``(start, end, title)``; ``tags`` the file's
    global metadata (lower-case keys: ``title``, ``artist``, ``album``, ``track``, …); the
    streams' first presentation time in seconds (``None`` for a missing stream); ``key_frames``
    the display-order indices of the video's key frames. Durations in seconds (0.0 and
    ``frames=0`` for a missing stream; codecs ``None``). Raises :class:`FFmpegError` naming the
    file if it is missing or unreadable, or saying that FFmpeg was killed.
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
        "tags": info["tags"],
        "video_start": _start(*video) if video else None,
        "audio_start": _start(*audio) if audio else None,
        "key_frames": _key_frames(video[1]) if video else [],
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
    proc = subprocess.run(argv, capture_output=True, check=False, **child_kwargs())
    if proc.returncode < 0:
        raise _killed(Path(path), proc.returncode, "decoding the video")
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
