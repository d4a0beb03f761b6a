"""Inline SVG plots for the run page, drawn from a track's ``analysis.json`` and reactivity series.

Pure functions from plain JSON data to an SVG string; no plotting library, so the page stays
self-contained and every shape can be counted: one ``<rect class="section">`` per section, one
``<rect class="chord">`` per chord segment, one ``<line class="beat">`` per beat and one
``<line class="downbeat">`` per downbeat. Widths are in viewBox units (the SVG scales to its box).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH = 960
LEFT = 74  # room for the row labels
RIGHT = 12
PLOT = WIDTH - LEFT - RIGHT
MAX_POINTS = 874  # a polyline never needs more points than the plot has units (PLOT)

# muted, distinguishable on a dark background; sections by their letter, A = first colour
SECTION_COLOURS = ("#4f7cac", "#c0875b", "#6a9f6a", "#a86aa4", "#b5a642", "#5fa8a8", "#b35f6a",
                   "#7f7fbf")  # fmt: skip
TICK_STEPS = (0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600)


def _n(value: float) -> str:
    """A coordinate with at most two decimals (keeps the page small)."""
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def clock(seconds: float) -> str:
    """``0:07``, ``3:05``; tenths under ten seconds when they matter (``1.5 s``)."""
    if seconds < 10 and abs(seconds - round(seconds)) > 1e-6:
        return f"{seconds:.1f} s"
    total = int(round(seconds))
    return f"{total // 60}:{total % 60:02d}"


def _x(t: float, duration: float) -> float:
    return LEFT + PLOT * min(max(t / duration, 0.0), 1.0) if duration > 0 else LEFT


def _axis(duration: float, *, y: float) -> str:
    """A time axis at height ``y``: a baseline and about eight labelled ticks."""
    step = next((s for s in TICK_STEPS if duration / s <= 9), TICK_STEPS[-1])
    parts = [f'<line class="axis" x1="{LEFT}" y1="{_n(y)}" x2="{LEFT + PLOT}" y2="{_n(y)}"/>']
    for i in range(int(math.floor(duration / step + 1e-9)) + 1):
        t, x = i * step, _n(_x(i * step, duration))
        parts.append(f'<line class="tick" x1="{x}" y1="{_n(y)}" x2="{x}" y2="{_n(y + 4)}"/>')
        label = f"{t:.1f} s" if step < 1 else clock(t)  # one format along the axis
        # the last label ends at the plot's edge instead of running off the picture
        cls = "tick-label end" if _x(t, duration) > LEFT + PLOT - 16 else "tick-label"
        parts.append(f'<text class="{cls}" x="{x}" y="{_n(y + 15)}">{label}</text>')
    return "".join(parts)


def _svg(height: float, body: str, *, label: str) -> str:
    return (f'<svg class="plot" viewBox="0 0 {WIDTH} {_n(height)}" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">{body}</svg>')  # fmt: skip


def section_colour(label: str) -> str:
    """The colour of a section label: by its letter (``"verse (B)"`` → B), else by its text."""
    match = re.search(r"\(([A-Z])\)\s*$", label)
    index = ord(match.group(1)) - ord("A") if match else sum(map(ord, label))
    return SECTION_COLOURS[index % len(SECTION_COLOURS)]


def _row_label(text: str, y: float) -> str:
    return f'<text class="row-label" x="{LEFT - 8}" y="{_n(y)}">{escape(text)}</text>'


def _segments(segments: Sequence[dict], duration: float, *, kind: str, y: float, h: float) -> str:
    """One ``<rect class="{kind}">`` per segment, its label inside when it fits."""
    parts = []
    for seg in segments:
        start, end = float(seg["start"]), float(seg["end"])
        label = str(seg.get("label", ""))
        x0, x1 = _x(start, duration), _x(end, duration)
        w = max(x1 - x0, 0.5)
        if kind == "section":
            fill, cls = section_colour(label), "section"
        else:
            cls = "chord chord-none" if label in ("N", "") else "chord"
            fill = ("#3a3f4b" if label in ("N", "") else
                    "#7a6bb0" if label.endswith("m") else "#b07a4f")  # fmt: skip
        tip = f"{label} · {clock(start)}–{clock(end)}"
        parts.append(
            f'<rect class="{cls}" x="{_n(x0)}" y="{_n(y)}" width="{_n(w)}" height="{_n(h)}" '
            f'fill="{fill}"><title>{escape(tip)}</title></rect>'
        )
        short = label.split(" (")[0] if kind == "section" else label
        if short and short != "N" and w >= 7 * len(short) + 8:
            parts.append(f'<text class="seg-label" x="{_n(x0 + 4)}" y="{_n(y + h / 2 + 4)}">'
                         f"{escape(short)}</text>")  # fmt: skip
    return "".join(parts)


def _ticks(times: Sequence[float], duration: float, *, cls: str, y: float, h: float) -> str:
    out = []
    for t in times:
        x = _n(_x(float(t), duration))
        out.append(f'<line class="{cls}" x1="{x}" y1="{_n(y)}" x2="{x}" y2="{_n(y + h)}"/>')
    return "".join(out)


def timeline_svg(analysis: dict[str, Any]) -> str:
    """Sections, chords, beats and downbeats of one track on one time axis."""
    duration = max(float(analysis.get("duration", 0.0)), 1e-6)
    beats, downbeats = analysis.get("beats", []), analysis.get("downbeats", [])
    body = [
        _row_label("sections", 26),
        _segments(analysis.get("sections", []), duration, kind="section", y=8, h=28),
        _row_label("chords", 59),
        _segments(analysis.get("chords", []), duration, kind="chord", y=44, h=22),
        _row_label("beats", 88),
        f'<rect class="lane" x="{LEFT}" y="74" width="{PLOT}" height="22"/>',
        _ticks(beats, duration, cls="beat", y=78, h=14),
        _ticks(downbeats, duration, cls="downbeat", y=74, h=22),
        _axis(duration, y=104),
    ]
    label = f"timeline: {len(analysis.get('sections', []))} sections, {len(beats)} beats"
    return _svg(126, "".join(body), label=label)


def local_tempo(beats: Sequence[float]) -> tuple[list[float], list[float]]:
    """``(times, bpm)``: 60 / beat interval, placed at the middle of each interval."""
    times, bpm = [], []
    for a, b in zip(beats[:-1], beats[1:], strict=True):
        if b - a > 1e-6:
            times.append(0.5 * (a + b))
            bpm.append(60.0 / (b - a))
    return times, bpm


def tempo_svg(analysis: dict[str, Any]) -> str | None:
    """Local tempo from the beat intervals and the track's tempo as a dashed line; ``None``
    with fewer than three beats (no grid to speak of)."""
    beats = [float(b) for b in analysis.get("beats", [])]
    times, bpm = local_tempo(beats)
    if len(bpm) < 2:
        return None
    duration = max(float(analysis.get("duration", 0.0)), beats[-1], 1e-6)
    tempo = float(analysis.get("tempo", 0.0))
    lo, hi = min(*bpm, tempo), max(*bpm, tempo)
    pad = max(2.0, 0.08 * (hi - lo))
    lo, hi = lo - pad, hi + pad
    top, h = 10.0, 84.0

    def y(v: float) -> float:
        return top + h * (hi - v) / (hi - lo)

    points = " ".join(f"{_n(_x(t, duration))},{_n(y(v))}" for t, v in zip(times, bpm, strict=True))
    body = [
        f'<rect class="lane" x="{LEFT}" y="{_n(top)}" width="{PLOT}" height="{_n(h)}"/>',
        f'<text class="row-label" x="{LEFT - 8}" y="{_n(top + 10)}">{hi:.0f}</text>',
        f'<text class="row-label" x="{LEFT - 8}" y="{_n(top + h)}">{lo:.0f}</text>',
        f'<text class="row-label" x="{LEFT - 8}" y="{_n(top + h / 2 + 4)}">BPM</text>',
        f'<line class="tempo-global" x1="{LEFT}" y1="{_n(y(tempo))}" x2="{LEFT + PLOT}" '
        f'y2="{_n(y(tempo))}"/>',
        f'<text class="legend" x="{LEFT + PLOT - 4}" y="{_n(y(tempo) - 5)}" text-anchor="end">'
        f"track tempo {tempo:.1f} BPM</text>",
        f'<polyline class="tempo-curve" points="{points}"/>',
        _axis(duration, y=top + h + 6),
    ]
    return _svg(top + h + 28, "".join(body), label=f"tempo, {tempo:.1f} BPM")


def downsample_mean(values: Sequence[float], *, points: int = MAX_POINTS) -> list[float]:
    """At most ``points`` values: the mean of each of ``points`` equal bins (a frame-rate series
    of a long track has more frames than the plot has units; the mean keeps its shape where the
    maximum would paint every bin to the top)."""
    n = len(values)
    if n <= points:
        return [float(v) for v in values]
    edges = [round(i * n / points) for i in range(points + 1)]
    return [sum(float(v) for v in values[a:b]) / (b - a)
            for a, b in zip(edges[:-1], edges[1:], strict=True)]  # fmt: skip


def _scale(values: Sequence[float]) -> float:
    """The 99th percentile (a single flash does not flatten the rest), else the maximum."""
    ordered = sorted(values)
    top = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))] if ordered else 0.0
    return top if top > 0 else (ordered[-1] if ordered and ordered[-1] > 0 else 1.0)


def reactivity_svg(series: dict[str, Any], *, section_starts: Sequence[float] = ()) -> str | None:
    """The picture's change (filled) against the onset envelope (line), each scaled to its own
    99th percentile, with section starts marked; ``None`` for an empty series."""
    change, onset = list(series.get("change", [])), list(series.get("onset", []))
    n = min(len(change), len(onset))
    fps = float(series.get("fps", 0.0))
    if n < 2 or fps <= 0:
        return None
    duration = n / fps
    top, h = 10.0, 96.0
    body = [f'<rect class="lane" x="{LEFT}" y="{_n(top)}" width="{PLOT}" height="{_n(h)}"/>']
    for name, values in (("onset", onset[:n]), ("change", change[:n])):  # change drawn on top
        small = downsample_mean(values)
        peak = _scale(small)
        step = PLOT / max(len(small) - 1, 1)
        pts = [f"{_n(LEFT + i * step)},{_n(top + h * (1 - min(v / peak, 1.0)))}"
               for i, v in enumerate(small)]  # fmt: skip
        if name == "change":
            area = f"{LEFT},{_n(top + h)} " + " ".join(pts) + f" {LEFT + PLOT},{_n(top + h)}"
            body.append(f'<polygon class="change" points="{area}"/>')
        else:
            body.append(f'<polyline class="onset" points="{" ".join(pts)}"/>')
    for t in section_starts:
        if 0 < float(t) < duration:
            x = _n(_x(float(t), duration))
            body.append(f'<line class="section-mark" x1="{x}" y1="{_n(top)}" x2="{x}" '
                        f'y2="{_n(top + h)}"/>')  # fmt: skip
    body += [
        _row_label("picture", top + h / 2 - 3),
        _row_label("vs sound", top + h / 2 + 11),
        _axis(duration, y=top + h + 6),
    ]
    return _svg(top + h + 28, "".join(body), label="reactivity: picture change and onsets")
