"""Plots (PNG, matplotlib) and a self-contained interactive HTML report (plotly, inlined JS)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from renderer.analysis.core import Analysis
from renderer.audio_features import Features

_SECTION_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3"]
_PITCHES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def _colour(label: str) -> str:
    letter = label.rsplit("(", 1)[-1].rstrip(")") if "(" in label else label
    return _SECTION_COLOURS[(ord(letter[:1] or "A") - ord("A")) % len(_SECTION_COLOURS)]


def write_plots(analysis: Analysis, features: Features, out_dir: Path) -> list[Path]:
    """Write ``timeline.png`` (features, beats, sections) and ``harmony.png`` (chroma, chords)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = np.arange(features.n_frames) / features.frame_rate
    fig, axes = plt.subplots(4, 1, figsize=(14, 9), sharex=True, constrained_layout=True)
    ax = axes[0]
    for seg in analysis.sections:
        ax.axvspan(seg.start, seg.end, color=_colour(seg.label), alpha=0.25)
        ax.text(seg.start + 0.3, 0.92, seg.label, fontsize=8, va="top")
    ax.plot(t, features.rms, lw=0.8, color="k", label="RMS")
    ax.set_ylim(0, 1)
    ax.set_title(f"{Path(analysis.source).name}: {analysis.tempo:.1f} bpm, key {analysis.key} "
                 f"(confidence {analysis.key_confidence:.2f})")  # fmt: skip
    ax.legend(loc="upper right")
    ax = axes[1]
    ax.plot(t, features.onset, lw=0.6, color="tab:blue", label="onset strength")
    ax.vlines(analysis.beats, 0, 0.5, color="tab:orange", lw=0.6, label="beats")
    ax.vlines(analysis.downbeats, 0, 1.0, color="tab:red", lw=1.0, label="downbeats")
    ax.legend(loc="upper right")
    ax = axes[2]
    ax.plot(t, features.centroid, lw=0.7, label="centroid")
    ax.plot(t, features.flatness, lw=0.7, label="flatness")
    ax.plot(t, features.harmonic, lw=0.7, label="harmonic")
    ax.plot(t, features.percussive, lw=0.7, label="percussive")
    ax.legend(loc="upper right", ncol=4)
    ax = axes[3]
    ax.imshow(features.chroma.T, aspect="auto", origin="lower", cmap="magma",
              extent=(0, features.duration, -0.5, 11.5), interpolation="nearest")  # fmt: skip
    ax.set_yticks(range(12), _PITCHES)
    for seg in analysis.chords:
        if seg.end - seg.start > 0.8 and seg.label != "N":
            ax.text(seg.start, 11.6, seg.label, fontsize=6, color="w", va="bottom", clip_on=True)
    ax.set_xlabel("time (s)")
    ax.set_title("chroma and chords")
    timeline = out_dir / "timeline.png"
    fig.savefig(timeline, dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(14, 2.2), constrained_layout=True)
    for seg in analysis.chords:
        ax.barh(0, seg.end - seg.start, left=seg.start, color=_colour(seg.label[:1]), edgecolor="w")
        if seg.end - seg.start > 1.0:
            ax.text((seg.start + seg.end) / 2, 0, seg.label, ha="center", va="center", fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(0, analysis.duration)
    ax.set_title("chords")
    chords = out_dir / "chords.png"
    fig.savefig(chords, dpi=110)
    plt.close(fig)
    return [timeline, chords]


def write_html(analysis: Analysis, features: Features, path: Path) -> Path:
    """An offline HTML report: plotly.js is inlined (no CDN), charts are interactive."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    t = np.arange(features.n_frames) / features.frame_rate
    fig = make_subplots(rows=3, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        subplot_titles=("loudness and sections", "onsets, beats, downbeats",
                                        "chroma"))  # fmt: skip
    for seg in analysis.sections:
        fig.add_vrect(x0=seg.start, x1=seg.end, fillcolor=_colour(seg.label), opacity=0.2,
                      line_width=0, row=1, col=1, annotation_text=seg.label,
                      annotation_position="top left")  # fmt: skip
    fig.add_trace(go.Scatter(x=t, y=features.rms, name="RMS", line={"width": 1}), row=1, col=1)
    fig.add_trace(go.Scatter(x=t, y=features.onset, name="onset", line={"width": 1}), row=2, col=1)
    fig.add_trace(go.Scatter(x=analysis.beats, y=np.full(len(analysis.beats), 0.6), mode="markers",
                             name="beats", marker={"size": 4}), row=2, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=analysis.downbeats, y=np.full(len(analysis.downbeats), 0.9),
                             mode="markers", name="downbeats", marker={"size": 7, "symbol": "diamond"}),
                  row=2, col=1)  # fmt: skip
    fig.add_trace(go.Heatmap(z=features.chroma.T, x=t, y=_PITCHES, colorscale="Magma",
                             showscale=False, name="chroma"), row=3, col=1)  # fmt: skip
    fig.update_layout(height=850, template="plotly_white", margin={"t": 60, "l": 50, "r": 20})
    chart = fig.to_html(full_html=False, include_plotlyjs=True)
    rows = "".join(
        f"<tr><td>{s.start:.2f}</td><td>{s.end:.2f}</td><td>{html.escape(s.label)}</td></tr>"
        for s in analysis.sections
    )
    chord_rows = "".join(
        f"<tr><td>{s.start:.2f}</td><td>{html.escape(s.label)}</td></tr>" for s in analysis.chords
    )
    title = html.escape(Path(analysis.source).name or "analysis")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>{title} — analysis</title>
<style>body{{font-family:system-ui,sans-serif;margin:24px;color:#222}}table{{border-collapse:collapse}}
td,th{{padding:2px 10px;border-bottom:1px solid #ddd}}.kv span{{margin-right:28px}}
.cols{{display:flex;gap:48px}}.scroll{{max-height:320px;overflow:auto}}</style></head><body>
<h1>{title}</h1>
<p class="kv"><span><b>Tempo</b> {analysis.tempo:.2f} bpm</span><span><b>Key</b> {html.escape(analysis.key)}
(confidence {analysis.key_confidence:.2f})</span><span><b>Duration</b> {analysis.duration:.2f} s</span>
<span><b>Beats</b> {len(analysis.beats)}</span><span><b>Downbeats</b> {len(analysis.downbeats)}</span></p>
{chart}
<div class="cols"><div><h2>Sections</h2><table><tr><th>start</th><th>end</th><th>label</th></tr>{rows}</table></div>
<div><h2>Chords</h2><div class="scroll"><table><tr><th>start</th><th>chord</th></tr>{chord_rows}</table></div></div></div>
</body></html>"""
    path.write_text(page, encoding="utf-8")
    return path
