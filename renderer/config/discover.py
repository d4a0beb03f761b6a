"""Tracks from a folder of audio files (or one file), for rendering one's own music with no
tracklist: order from track-number tags, else the natural order of the file names; title, artist
and album from the tags (tinytag, MIT), else the file name; ids made safe from the titles.

The files are the user's own, named on the command line, so they may lie anywhere (absolute
paths, symlinks): the album root is the folder itself. A config's tracklist keeps its rule that
every ``src`` resolves inside ``album.root`` (:func:`renderer.config.tracklist.resolve_inside`).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from renderer.config.tracklist import TrackSpec
from renderer.errors import ConfigError

# Containers FFmpeg decodes for us (libsndfile reads the first few natively).
AUDIO_SUFFIXES = (".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".alac",
                  ".aif", ".aiff", ".aifc", ".wma", ".mka", ".webm", ".caf", ".wv", ".ape")  # fmt: skip
MAX_TRACKS = 500  # a folder of more is a music library, not an album
ID_LENGTH = 48  # room for a "-NN" suffix inside the 64 characters of TRACK_ID


@dataclass(frozen=True)
class Tags:
    """What a file's tags say (empty strings / ``None`` where they say nothing)."""

    title: str = ""
    artist: str = ""
    album: str = ""
    track: int | None = None
    disc: int | None = None
    duration: float | None = None


def read_tags(path: Path) -> Tags:
    """The file's tags; :class:`Tags` with nothing in it when the file has none or tinytag
    cannot parse it (the decoder, not the tag reader, decides whether the audio is usable)."""
    from tinytag import TinyTag

    try:
        tag = TinyTag.get(str(path))
    except Exception:  # tinytag raises its own errors, struct.error, OSError… on odd files
        return Tags()

    def text(value: Any) -> str:
        return " ".join(str(value).split()) if value else ""

    def number(value: Any) -> int | None:
        match = re.match(r"\s*(\d+)", str(value)) if value is not None else None
        return int(match.group(1)) if match else None

    duration = tag.duration if isinstance(tag.duration, int | float) else None
    return Tags(title=text(tag.title), artist=text(tag.artist), album=text(tag.album),
                track=number(tag.track), disc=number(tag.disc), duration=duration)  # fmt: skip


def natural_key(name: str) -> tuple:
    """Sort key that puts ``2 song`` before ``10 song`` (digits compare as numbers)."""
    parts = re.split(r"(\d+)", name.casefold())
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in parts if p)


def slug(text: str) -> str:
    """``"Vibe Ace (Live!)"`` → ``"vibe-ace-live"``: ASCII letters, digits, ``-`` and ``_``,
    starting with a letter or digit; ``""`` when nothing of ``text`` survives."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    words = re.sub(r"[^a-z0-9_]+", "-", ascii_text.lower()).strip("-_")
    return words[:ID_LENGTH].rstrip("-_")


def unique_ids(names: list[str]) -> list[str]:
    """Safe, unique ids for ``names`` (in order): ``a``, ``a-2``, ``a-3``…; ``track-N`` for a
    name with no usable character."""
    ids: list[str] = []
    for i, name in enumerate(names, start=1):
        base = slug(name) or f"track-{i}"
        candidate, n = base, 1
        while candidate in ids:
            n += 1
            candidate = f"{base}-{n}"
        ids.append(candidate)
    return ids


def audio_files(folder: Path) -> list[Path]:
    """The audio files directly in ``folder`` (not hidden), by suffix."""
    files = [p for p in folder.iterdir() if p.suffix.lower() in AUDIO_SUFFIXES
             and not p.name.startswith(".") and p.is_file()]  # fmt: skip
    if not files:
        raise ConfigError(f"{folder}: no audio files in this folder (looked for "
                          f"{', '.join(AUDIO_SUFFIXES)})")  # fmt: skip
    if len(files) > MAX_TRACKS:
        raise ConfigError(f"{folder}: {len(files)} audio files; an album is limited to "
                          f"{MAX_TRACKS} tracks")  # fmt: skip
    return files


def discover_tracks(source: str | Path) -> tuple[Path, list[TrackSpec]]:
    """``(album root, tracks)`` for an audio file or a folder of them.

    Order: files with a track number first, by (disc, track number, name), then the rest by the
    natural order of their names. Title from the tag, else the file name without its suffix.
    """
    path = Path(source).expanduser()
    if not path.exists():
        raise ConfigError(f"{path}: no such file or folder")
    path = path.resolve()
    if path.is_dir():
        root, files = path, audio_files(path)
    else:
        if path.suffix.lower() not in AUDIO_SUFFIXES:
            raise ConfigError(f"{path}: not an audio file by its suffix (expected one of "
                              f"{', '.join(AUDIO_SUFFIXES)})")  # fmt: skip
        root, files = path.parent, [path]
    tagged = [(f, read_tags(f)) for f in files]

    def order(item: tuple[Path, Tags]) -> tuple:
        file, tags = item
        if tags.track is None:
            return (1, 0, 0, natural_key(file.name))
        return (0, tags.disc or 0, tags.track, natural_key(file.name))

    tagged.sort(key=order)
    titles = [tags.title or file.stem for file, tags in tagged]
    specs = []
    for (file, tags), title, track_id in zip(tagged, titles, unique_ids(titles), strict=True):
        extra: dict[str, Any] = {}
        if tags.album:
            extra["album"] = tags.album
        if tags.track is not None:
            extra["track"] = tags.track
        specs.append(TrackSpec(id=track_id, src=file, title=title, artist=tags.artist,
                               extra=extra))  # fmt: skip
    return root, specs


def tracklist_entries(root: Path, tracks: list[TrackSpec]) -> list[dict[str, Any]]:
    """The ``tracklist.json`` entries for ``tracks`` found in ``root`` (``src`` relative to it)."""
    entries = []
    for t in tracks:
        entry: dict[str, Any] = {"id": t.id, "src": t.src.relative_to(root).as_posix(),
                                 "title": t.title}  # fmt: skip
        if t.artist:
            entry["artist"] = t.artist
        entry.update(t.extra)
        entries.append(entry)
    return entries


def load_run_inputs(
    *, config_path: Path | None, source: Path | None, overrides: dict | None = None
) -> tuple[Any, list[TrackSpec]]:
    """``(config, tracks)`` of a run: from ``render.yaml`` and its tracklist, or (``source``, a
    file or folder given on the command line) from the audio files with the bundled defaults."""
    from renderer.config.loading import default_config, load_config
    from renderer.config.tracklist import load_tracklist

    if source is not None:
        if config_path is not None:
            raise ConfigError(f"{source}: give an audio file/folder or --config, not both")
        root, tracks = discover_tracks(source)
        return default_config(root, overrides=overrides), tracks
    config = load_config(config_path or Path("render.yaml"), overrides=overrides)
    tracks = load_tracklist(
        config.path(config.album.tracklist), album_root=config.path(config.album.root)
    )
    return config, tracks
