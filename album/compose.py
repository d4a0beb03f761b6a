"""Compose and render the bundled album: MP3s, cover art and ``tracklist.json``.

    python -m album.compose                       # the whole album into album/
    nts-compose-album --out /tmp/a --tracks opening --seconds-limit 8
    nts-compose-album --stems                     # also album/stems/<id>/{drums,bass,other}.flac

The tracklist is written from the same :class:`~album.songs.Song` data that renders the audio, so
its bpm, key, markers and sections are exact ground truth for the analysis accuracy script.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from album.art import write_cover
from album.encode import write_mp3
from album.mix import render_parts, render_pcm
from album.songs import ORDER, SONGS, Song
from album.synth import SR

ALBUM_DIR = Path(__file__).resolve().parent
ARTIST = "noise-to-signal"


def render_track(track_id: str, *, seconds_limit: float | None = None) -> np.ndarray:
    """Mastered PCM of one track: float32 [2, n] at 48 kHz (deterministic)."""
    if track_id not in SONGS:
        raise ValueError(f"unknown track id {track_id!r}; choose from {', '.join(ORDER)}")
    return render_pcm(SONGS[track_id], seconds_limit=seconds_limit)


def pcm_sha256(pcm: np.ndarray) -> str:
    """SHA-256 of the little-endian float32 bytes of ``pcm``."""
    return hashlib.sha256(np.ascontiguousarray(pcm, dtype="<f4").tobytes()).hexdigest()


def track_entry(song: Song, *, number: int, duration: float) -> dict:
    """Tracklist entry for ``song`` rendered to ``duration`` seconds (sections clipped to it)."""
    sections, bar = [], 0
    for section in song.sections:
        start = song.first_beat + bar * song.bar_seconds
        bar += section.bars
        end = song.first_beat + bar * song.bar_seconds
        if start >= duration:
            break
        sections.append({"start": round(start if sections else 0.0, 4), "label": section.label,
                         "end": round(min(end, duration), 4)})  # fmt: skip
    sections[-1]["end"] = round(duration, 4)  # the outro runs into the reverb tail
    stem = f"{number:02d}-{song.id}"
    return {
        "id": song.id,
        "src": f"{stem}.mp3",
        "title": song.title,
        "artist": ARTIST,
        "bpm": song.bpm,
        "key": song.key,
        "markers": [s["start"] for s in sections[1:]],
        "sections": sections,
        "first_beat": round(song.first_beat, 4),
        "duration": round(duration, 4),
        "art": f"art/{song.id}.png",
    }


def write_stems(folder: Path, parts: dict[str, np.ndarray]) -> list[Path]:
    """``folder/<part>.flac`` (16-bit, 48 kHz stereo) for each stem ``[2, n]``; returns the files."""
    import soundfile as sf

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, pcm in parts.items():
        path = folder / f"{name}.flac"
        partial = folder / f".{name}.flac.partial"
        sf.write(str(partial), np.clip(pcm, -1.0, 1.0).T, SR, subtype="PCM_16", format="FLAC")
        os.replace(partial, path)
        written.append(path)
    return written


def compose_album(
    *,
    out: Path = ALBUM_DIR,
    tracks: Sequence[str] = ORDER,
    seconds_limit: float | None = None,
    stems: bool = False,
) -> list[dict]:
    """Render ``tracks`` into ``out`` (MP3 + cover art) and write ``out/tracklist.json``; with
    ``stems``, also each track's stems into ``out/stems/<id>/`` (git-ignored, see STEM_BUSES)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = []
    for track_id in tracks:
        song = SONGS.get(track_id)
        if song is None:
            raise ValueError(f"--tracks: unknown track id {track_id!r}; choose from {ORDER}")
        t0 = time.process_time()
        pcm, parts = render_parts(song, seconds_limit=seconds_limit, stems=stems)
        if parts:
            write_stems(out / "stems" / song.id, parts)
        entry = track_entry(song, number=ORDER.index(track_id) + 1, duration=pcm.shape[1] / SR)
        write_mp3(out / entry["src"], pcm)
        write_cover(out / entry["art"], seed=song.seed, hue=song.hue)
        entry_log = {"cpu_s": round(time.process_time() - t0, 1), "pcm_sha256": pcm_sha256(pcm)}
        print(f"{entry['src']}: {entry['duration']:.2f} s, {entry_log}")
        entries.append(entry)
    partial = out / "tracklist.json.partial"
    partial.write_text(json.dumps(entries, indent=2) + "\n", encoding="utf-8")
    os.replace(partial, out / "tracklist.json")
    return entries


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nts-compose-album", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--out", type=Path, default=ALBUM_DIR, help="output folder (default: album/)"
    )
    parser.add_argument(
        "--tracks",
        default=",".join(ORDER),
        help=f"comma-separated ids (default: {','.join(ORDER)})",
    )
    parser.add_argument(
        "--seconds-limit", type=float, default=None, help="render only the first N seconds"
    )
    parser.add_argument("--stems", action="store_true",
                        help="also write each track's stems to OUT/stems/<id>/")  # fmt: skip
    args = parser.parse_args(argv)
    if args.seconds_limit is not None and args.seconds_limit <= 0:
        parser.error(f"--seconds-limit must be positive, got {args.seconds_limit}")
    tracks = [t.strip() for t in args.tracks.split(",") if t.strip()]
    unknown = [t for t in tracks if t not in SONGS]
    if unknown or not tracks:
        parser.error(f"--tracks: unknown ids {unknown}; choose from {', '.join(ORDER)}")
    compose_album(out=args.out, tracks=tracks, seconds_limit=args.seconds_limit, stems=args.stems)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
