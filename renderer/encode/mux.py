"""Concatenate video segments and mux audio and chapters (ARCHITECTURE §2, §7).

The concat demuxer reads a list file we write (``safe=1``: relative, portable names only) and the
video is stream-copied, so segments must share codec parameters (they come from one profile).
Audio is encoded once for the whole file, trimmed or padded to the video's exact duration.
File-level tags (``title``, ``artist``, ``album``, ``track``) come from the tracklist entry
(:func:`track_metadata`) and are written with ``-metadata``: MP4 (iTunes atoms), Matroska and WebM
all carry them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.ffmpeg_proc import WHITELIST, partial_path, run_ffmpeg
from renderer.encode.media import probe_media
from renderer.encode.profiles import EncodeProfile, get_profile
from renderer.errors import FFmpegError

# Names the concat demuxer accepts with safe=1: relative, portable characters, no leading dot.
_SAFE_NAME = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]*$")
_TAG_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
# Tracklist keys (beyond title/artist) that name the album and the track's number.
_ALBUM_KEYS = ("album",)
_NUMBER_KEYS = ("track", "track_number", "number")


def track_metadata(track: Any, *, number: int | None = None, album: str | None = None) -> dict:
    """File tags for one track from its tracklist entry (:class:`renderer.tracklist.TrackSpec`).

    ``title`` (the entry's title, else its id) and ``artist`` come from the entry's fields;
    ``album`` and ``track`` (its number) from the arguments or, where the tracklist has them,
    from the entry's extra keys ``album`` and ``track``/``track_number``/``number``. Empty values
    are left out.
    """
    extra = getattr(track, "extra", None) or {}
    tags = {
        "title": getattr(track, "title", "") or getattr(track, "id", ""),
        "artist": getattr(track, "artist", "") or "",
        "album": album or next((str(extra[k]) for k in _ALBUM_KEYS if extra.get(k)), ""),
    }
    if number is None:
        number = next((extra[k] for k in _NUMBER_KEYS if extra.get(k) not in (None, "")), None)
    if number is not None:
        tags["track"] = str(number)
    return {k: str(v) for k, v in tags.items() if str(v).strip()}


def metadata_args(metadata: Mapping[str, Any] | None) -> list[str]:
    """``-metadata key=value`` options (in the mapping's order, so the argv is repeatable)."""
    args: list[str] = []
    for key, value in (metadata or {}).items():
        if not _TAG_KEY.match(key):
            raise ValueError(f"metadata key {key!r} must be lower-case letters, digits and _")
        if value is None or not str(value).strip():
            continue
        args += ["-metadata", f"{key}={value}"]
    return args


@dataclass(frozen=True)
class Chapter:
    """A chapter marker: ``[start, end)`` in seconds and a title."""

    start: float
    end: float
    title: str


def _escape_metadata(value: str) -> str:
    """FFMETADATA escaping: ``= ; # \\`` and newlines get a backslash."""
    return re.sub(r"([=;#\\\n])", r"\\\1", value)


def write_ffmetadata(
    path: Path, chapters: Sequence[Chapter | tuple], *, title: str | None = None
) -> None:
    """Write an FFMETADATA1 file with millisecond chapters (and an optional global title)."""
    lines = [";FFMETADATA1"]
    if title:
        lines.append(f"title={_escape_metadata(title)}")
    for item in chapters:
        chap = item if isinstance(item, Chapter) else Chapter(*item)
        if chap.end <= chap.start:
            raise ValueError(
                f"chapter {chap.title!r}: end {chap.end} is not after start {chap.start}"
            )
        lines += [
            "[CHAPTER]",
            "TIMEBASE=1/1000",
            f"START={round(chap.start * 1000)}",
            f"END={round(chap.end * 1000)}",
            f"title={_escape_metadata(chap.title)}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_concat_list(path: Path, segments: Sequence[Path]) -> None:
    """Concat-demuxer list of segment names relative to ``path``'s folder (``safe=1`` rules)."""
    lines = ["ffconcat version 1.0"]
    for seg in segments:
        seg = Path(seg)
        if seg.resolve().parent != path.resolve().parent:
            raise FFmpegError(
                f"segment {seg} is not in the folder of the concat list {path.parent}"
            )
        if not _SAFE_NAME.match(seg.name):
            raise FFmpegError(
                f"segment name {seg.name!r} is not a safe concat name ([A-Za-z0-9._-])"
            )
        if not seg.is_file():
            raise FFmpegError(f"segment {seg} does not exist")
        lines.append(f"file '{seg.name}'")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def concat_and_mux(
    segments: Sequence[str | Path],
    audio: str | Path | None,
    out: str | Path,
    *,
    profile: str | EncodeProfile = "youtube",
    chapters: Sequence[Chapter | tuple] | None = None,
    ffmpeg_path: str | None = None,
    duration: float | None = None,
    audio_offset: float = 0.0,
    gain_db: float = 0.0,
    title: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> Path:
    """Join video segments (stream copy) and mux one audio stream; returns ``out``.

    The audio is cut from ``audio_offset`` seconds, resampled to 48 kHz, gain-adjusted by
    ``gain_db`` (loudness normalisation is measured upstream) and trimmed or padded with silence to
    the video's duration — ``duration`` if given, else probed from the segments — so both streams
    end together (within one audio codec frame's rounding; see tests). ``audio=None`` gives a
    video-only file. The concat list and chapter file are written beside ``out`` and removed.

    ``title`` and ``metadata`` (e.g. :func:`track_metadata`) become the file's global tags; a
    ``title`` in ``metadata`` wins over ``title``.
    """
    prof = get_profile(profile)
    out = Path(out)
    segments = [Path(s) for s in segments]
    if not segments:
        raise FFmpegError(f"{out}: no segments to concatenate")
    if audio is not None and not Path(audio).is_file():
        raise FFmpegError(f"{out}: audio file {audio} does not exist")
    if duration is None:
        duration = sum(probe_media(s, ffmpeg_path=ffmpeg_path)["video_duration"] for s in segments)
    ffmpeg = find_ffmpeg(ffmpeg_path)
    list_path = segments[0].parent / f"{out.stem}.concat.txt"
    meta_path = out.parent / f"{out.stem}.ffmetadata.txt"
    partial = partial_path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_concat_list(list_path, segments)
    argv = [
        ffmpeg, "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
        *WHITELIST, "-f", "concat", "-safe", "1", "-i", str(list_path),
    ]  # fmt: skip
    maps = ["-map", "0:v:0"]
    if audio is not None:
        argv += [*WHITELIST, "-ss", f"{audio_offset:.6f}", "-i", str(audio)]
        maps += ["-map", "1:a:0"]
    if chapters:
        write_ffmetadata(meta_path, chapters, title=title)
        argv += [*WHITELIST, "-f", "ffmetadata", "-i", str(meta_path)]
        meta_index = 2 if audio is not None else 1
        maps += ["-map_metadata", str(meta_index), "-map_chapters", str(meta_index)]
    argv += [*maps, "-c:v", "copy"]
    if audio is not None:
        # Resample, apply the loudness gain, pad with silence past the end, then cut exactly at
        # the video's duration so the streams end together.
        argv += [
            "-af",
            f"aresample=48000,volume={gain_db:.3f}dB,apad,atrim=end={duration:.6f}",
            *prof.audio_args,
        ]
    tags = {"title": title, **(metadata or {})} if title else dict(metadata or {})
    argv += metadata_args(tags)
    argv += ["-t", f"{duration:.6f}", "-fflags", "+bitexact"]
    if prof.faststart:
        argv += ["-movflags", "+faststart"]  # moov atom first: playback starts before download ends
    argv.append(str(partial))
    try:
        run_ffmpeg(argv, what=f"muxing {out.name}")
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
        list_path.unlink(missing_ok=True)
        meta_path.unlink(missing_ok=True)
    return out
