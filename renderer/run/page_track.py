"""One track's part of the run page: player, facts, analysis plots, reactivity, previews.

Every string that comes from the user or the files (titles, ids, labels, paths, errors) goes
through :func:`html.escape`; every link is relative to the run folder
(:func:`renderer.run.page_data.relative_url`) and missing pieces become a short note.
"""

from __future__ import annotations

from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from renderer.run.page_data import TrackData, relative_url
from renderer.run.page_svg import clock, reactivity_svg, section_colour, tempo_svg, timeline_svg


def attr(value: Any) -> str:
    """A value for a double-quoted HTML attribute."""
    return escape(str(value), quote=True)


def title_of(track: dict[str, Any]) -> str:
    return str(track.get("title") or track.get("id") or "untitled")


def video_tag(*, sources: list[tuple[str | None, str]], poster: str | None, element_id: str,
              aspect: tuple[int, int] | None) -> str:  # fmt: skip
    """A ``<video>`` with one ``<source>`` per existing file, in order (WebM first: VP9/Opus
    plays in every browser build, H.264/AAC not in those without proprietary codecs, such as
    some Chromium builds); ``""`` when there is none."""
    found = [(url, mime) for url, mime in sources if url]
    if not found:
        return ""
    inner = "".join(f'<source src="{attr(url)}" type="{mime}">' for url, mime in found)
    fallback = found[-1][0]
    style = f' style="--aspect: {aspect[0]} / {aspect[1]}"' if aspect else ""
    poster_attr = f' poster="{attr(poster)}"' if poster else ""
    return (f'<video class="player" id="{attr(element_id)}" controls preload="metadata"'
            f'{poster_attr}{style}>{inner}<p class="note">This browser cannot play the video: '
            f'<a href="{attr(fallback)}">open the file</a>.</p></video>')  # fmt: skip


def _facts(rows: list[tuple[str, str]]) -> str:
    cells = "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in rows if v)
    return f'<dl class="facts-list">{cells}</dl>' if cells else ""


def _fmt(value: Any, spec: str, unit: str = "") -> str:
    if value is None:
        return ""
    try:
        text = f"{float(value):{spec}}"
    except (TypeError, ValueError):
        return escape(str(value))
    if text.lstrip("+-").strip("0.%") == "":  # "-0.0" and "+0.0" read as a sign that is not there
        text = text.lstrip("+-")
    return f"{text}{unit}"


def _side_facts(t: dict[str, Any]) -> str:
    loud, react, ana = t.get("loudness") or {}, t.get("reactivity") or {}, t.get("analysis") or {}
    beats_hit = react.get("beat_accent_rate")
    chance = react.get("beat_accent_chance")
    hit = _fmt(beats_hit, ".0%") + (
        f" (chance {_fmt(chance, '.0%')})" if chance is not None else ""
    )
    seen = react.get("section_hit_rate")
    rows = [
        ("tempo", _fmt(ana.get("tempo"), ".1f", " BPM")),
        ("key", escape(str(ana.get("key", ""))) if ana.get("key") else ""),
        ("duration", clock(float(t["duration"])) if t.get("duration") else ""),
        ("frames", escape(str(t.get("frames", ""))) if t.get("frames") else ""),
        ("loudness in", _fmt(loud.get("input_lufs"), ".1f", " LUFS")),
        ("target", _fmt(loud.get("target_lufs"), ".1f", " LUFS")),
        ("gain", _fmt(loud.get("gain_db"), "+.1f", " dB")),
        ("peak", _fmt(loud.get("peak_db"), ".1f", " dB")),
        ("A/V sync", _fmt(t.get("sync_error_ms"), ".1f", " ms")),
        ("onset r", _fmt(react.get("onset_pearson"), ".2f")),
        ("beats hit", hit if beats_hit is not None else ""),
        ("sections seen", _fmt(seen, ".0%") if seen is not None else ""),
    ]
    return _facts(rows)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _sections_legend(analysis: dict[str, Any]) -> str:
    seen: dict[str, str] = {}
    for s in analysis.get("sections", []):
        label = str(s.get("label", ""))
        seen.setdefault(label, section_colour(label))
    swatches = "".join(f'<span class="key"><span class="swatch" style="background:{c}"></span>'
                       f"{escape(label)}</span>"
                       for label, c in seen.items())  # fmt: skip
    counts = " · ".join(_count(len(analysis.get(k, [])), name) for k, name in
                        (("sections", "section"), ("chords", "chord segment"), ("beats", "beat"),
                         ("downbeats", "downbeat")))  # fmt: skip
    return f'<p class="plot-legend">{counts}{swatches}</p>'


def _analysis_block(data: TrackData) -> str:
    a = data.analysis
    if a is None:
        return ('<h3>Analysis</h3><p class="note">No analysis recorded for this track '
                "(it failed before analysis, or the run predates the run page).</p>")  # fmt: skip
    tempo = tempo_svg(a)
    conf = a.get("tempo_confidence")
    tempo_part = tempo or (f'<p class="note">No beat grid (tempo confidence '
                           f"{_fmt(conf, '.2f')}): nothing to plot.</p>")  # fmt: skip
    return (f"<h3>Analysis</h3>{_sections_legend(a)}{timeline_svg(a)}"
            f"<h3>Tempo</h3>{tempo_part}")  # fmt: skip


def _reactivity_block(data: TrackData) -> str:
    starts = [float(s["start"]) for s in (data.analysis or {}).get("sections", []) if "start" in s]
    svg = reactivity_svg(data.series, section_starts=starts) if data.series else None
    if svg is None:
        return ('<h3>Reactivity</h3><p class="note">No reactivity series recorded for this '
                "track.</p>")  # fmt: skip
    keys = "".join(f'<span class="key"><span class="swatch {cls}"></span>{text}</span>'
                   for cls, text in (("key-change", "picture change (frame to frame)"),
                                     ("key-onset", "onset strength"),
                                     ("key-section", "section start")))  # fmt: skip
    return (f'<h3>Reactivity</h3><p class="plot-legend">{keys} · each scaled to its own 99th '
            f"percentile</p>{svg}")  # fmt: skip


def _keyframe_caption(path: str) -> str:
    """``frame 12 · intro`` from ``<id>_000012_intro.png`` (the file name is the record)."""
    parts = Path(path).stem.rsplit("_", 2)
    if len(parts) == 3 and parts[1].isdigit():
        return f"keyframe: frame {int(parts[1])} · {parts[2]}"
    return f"keyframe: {Path(path).name}"


def _image_size(run_dir: Path, url: str) -> tuple[int, int] | None:
    """``(width, height)`` from the image's header (no decode); ``None`` when unreadable."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(Path(run_dir) / unquote(url)) as im:
            return im.size
    except (OSError, UnidentifiedImageError, ValueError):
        return None


def _previews(t: dict[str, Any], run_dir: Path) -> str:
    """Keyframes, GIF and thumbnail; ``width``/``height`` reserve their boxes before loading."""
    previews = t.get("previews") or {}
    figures = [(relative_url(p, run_dir), _keyframe_caption(str(p)))
               for p in previews.get("keyframes") or []]  # fmt: skip
    figures += [(relative_url(previews.get("gif"), run_dir), "GIF loop"),
                (relative_url(previews.get("thumbnail"), run_dir), "thumbnail")]  # fmt: skip
    cells = []
    for url, caption in figures:
        if not url:
            continue
        size = _image_size(run_dir, url)
        dims = f' width="{size[0]}" height="{size[1]}"' if size else ""
        text = f"{caption} ({size[0]}×{size[1]})" if size else caption
        cells.append(f'<figure><a href="{attr(url)}"><img src="{attr(url)}" alt="{attr(text)}"'
                     f'{dims} loading="lazy"></a><figcaption>{escape(text)}</figcaption></figure>')  # fmt: skip
    return f'<h3>Previews</h3><div class="gallery">{"".join(cells)}</div>' if cells else ""


def track_article(data: TrackData, *, run_dir: Path, size: tuple[int, int] | None) -> str:
    """The ``<article>`` for one track."""
    t = data.meta
    ok = bool(t.get("ok"))
    status = ('<span class="status-ok">rendered</span>' if ok else
              '<span class="status-failed">failed</span>')  # fmt: skip
    chips = [status, f"preset {escape(str(t.get('preset', '?')))}",
             f"seed {escape(str(t.get('seed', '?')))}"]  # fmt: skip
    if t.get("chunks_skipped"):
        chips.append(f"{escape(str(t['chunks_skipped']))} chunk(s) reused")
    player = video_tag(
        sources=[(relative_url(t.get("webm"), run_dir), "video/webm"),
                 (relative_url(t.get("output"), run_dir), _mime(t.get("output")))],
        poster=relative_url((t.get("previews") or {}).get("thumbnail"), run_dir),
        element_id=f"video-{data.id}", aspect=size,
    )  # fmt: skip
    if not player:
        player = '<p class="note">No video file for this track.</p>'
    notes = "".join(f'<p class="warning">warning: {escape(str(w))}</p>'
                    for w in t.get("warnings") or [])  # fmt: skip
    if t.get("error"):
        notes += f'<p class="error">{escape(str(t["error"]))}</p>'
    chip_html = "".join(f"<li>{c}</li>" for c in chips)
    return (f'<article class="track" id="track-{attr(data.id)}">'
            f'<h2>{escape(title_of(t))}<span class="subtitle mono">{escape(data.id)}</span></h2>'
            f'<ul class="chips">{chip_html}</ul>{notes}'
            f'<div class="media"><div>{player}</div>{_side_facts(t)}</div>'
            f"{_analysis_block(data)}{_reactivity_block(data)}"
            f"{_previews(t, run_dir)}"
            "</article>")  # fmt: skip


def _mime(path: Any) -> str:
    suffix = Path(str(path or "")).suffix.lower()
    return {".webm": "video/webm", ".mkv": "video/x-matroska", ".mov": "video/quicktime"}.get(
        suffix, "video/mp4"
    )
