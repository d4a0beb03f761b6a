"""Plots (PNG, matplotlib) and a self-contained interactive HTML report (plotly, inlined JS)."""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np

from renderer.analysis.core import Analysis
from renderer.audio.features import Features

_SECTION_COLOURS = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3"]
_PITCHES = ["C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B"]


def _colour(label: str) -> str:
    letter = label.rsplit("(", 1)[-1].rstrip(")") if "(" in label else label
    return _SECTION_COLOURS[(ord(letter[:1] or "A") - ord("A")) % len(_SECTION_COLOURS)]


def chord_colour(label: str) -> tuple[float, float, float]:
    """A colour per chord root on the colour wheel (fifths apart look distinct); minor is darker."""
    import matplotlib

    if label == "N" or not label:
        return (0.8, 0.8, 0.8)
    root = label[:2] if label[1:2] in ("#", "b") else label[:1]
    pc = _PITCHES.index(root) if root in _PITCHES else {"Db": 1, "D#": 3, "Gb": 6, "G#": 8,
                                                        "A#": 10}.get(root, 0)  # fmt: skip
    rgb = matplotlib.colors.hsv_to_rgb(((pc * 7 % 12) / 12.0, 0.55, 0.95))
    return tuple(rgb * (0.7 if label.endswith("m") else 1.0))


def _smooth(x: np.ndarray, width: int) -> np.ndarray:
    """Moving average for display only (the analysis uses the raw curves)."""
    if width <= 1 or len(x) < width:
        return x
    return np.convolve(x, np.ones(width) / width, mode="same")


def tempo_curve(onset: np.ndarray, *, frame_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Onset autocorrelation as a function of tempo: ``(bpm [L], strength [L])`` for 40–240 bpm."""
    x = onset - onset.mean()
    n = len(x)
    spec = np.fft.rfft(x, 2 * n)
    ac = np.fft.irfft(spec * np.conj(spec))[:n]
    ac /= ac[0] + 1e-12
    lags = np.arange(
        max(1, int(np.ceil(60 * frame_rate / 240))), min(n, int(60 * frame_rate / 40) + 1)
    )
    return 60.0 * frame_rate / lags, ac[lags]


def write_plots(analysis: Analysis, features: Features, out_dir: Path) -> list[Path]:
    """Write ``timeline.png`` (sections, loudness, onsets/beats, chroma/chords), ``chords.png``
    (the chord sequence) and ``tempo.png`` (tempo evidence and beat-to-beat tempo)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fr = features.frame_rate
    t = np.arange(features.n_frames) / fr
    span = max(analysis.duration, 1e-3)
    fig, axes = plt.subplots(5, 1, figsize=(15, 10), sharex=True, constrained_layout=True,
                             gridspec_kw={"height_ratios": [0.5, 1.3, 1.2, 1.0, 1.6]})  # fmt: skip
    fig.suptitle(f"{Path(analysis.source).name}: {analysis.tempo:.1f} bpm, key {analysis.key} "
                 f"(confidence {analysis.key_confidence:.2f})", fontsize=13)  # fmt: skip
    ax = axes[0]
    for seg in analysis.sections:
        ax.barh(0, seg.end - seg.start, left=seg.start, color=_colour(seg.label), edgecolor="w")
        if seg.end - seg.start > span / 40:
            ax.text((seg.start + seg.end) / 2, 0, seg.label, ha="center", va="center", fontsize=8,
                    color="w", clip_on=True)  # fmt: skip
    ax.set_yticks([])
    ax.set_ylabel("sections")
    ax = axes[1]
    envelope = _smooth(features.rms, max(1, int(fr * 0.1)))
    ax.fill_between(t, -envelope, envelope, color="0.35", lw=0)
    for seg in analysis.sections[1:]:
        ax.axvline(seg.start, color="k", lw=0.8, ls="--")
    ax.set_ylim(-1.05, 1.05)
    ax.set_ylabel("loudness (RMS)")
    ax = axes[2]
    ax.plot(t, features.onset, lw=0.5, color="tab:blue", alpha=0.6, label="onset strength")
    ax.vlines(analysis.beats, -0.12, -0.02, color="tab:orange", lw=0.9, label="beats")
    ax.vlines(analysis.downbeats, -0.25, -0.02, color="tab:red", lw=1.4, label="downbeats")
    ax.set_ylim(-0.27, 1.02)
    ax.set_ylabel("onsets")
    ax.legend(loc="upper right", ncol=3, fontsize=8)
    ax = axes[3]
    width = max(1, int(fr * 0.25))
    for name, colour in (("centroid", "tab:purple"), ("flatness", "tab:gray"),
                         ("harmonic", "tab:green"), ("percussive", "tab:red")):  # fmt: skip
        ax.plot(t, _smooth(getattr(features, name), width), lw=0.9, color=colour, label=name)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("timbre")
    ax.legend(loc="upper right", ncol=4, fontsize=8)
    ax = axes[4]
    ax.imshow(features.chroma.T, aspect="auto", origin="lower", cmap="magma",
              extent=(0, features.duration, -0.5, 11.5), interpolation="nearest")  # fmt: skip
    ax.set_yticks(range(12), _PITCHES, fontsize=7)
    for seg in analysis.chords:
        ax.barh(12.2, seg.end - seg.start, left=seg.start, height=0.9,
                color=chord_colour(seg.label), edgecolor="w", lw=0.5)  # fmt: skip
        if seg.end - seg.start > span / 60 and seg.label != "N":
            ax.text((seg.start + seg.end) / 2, 12.2, seg.label, fontsize=6, ha="center",
                    va="center", clip_on=True)  # fmt: skip
    ax.set_ylim(-0.5, 12.7)
    ax.set_ylabel("chroma + chords")
    ax.set_xlabel("time (s)")
    ax.set_xlim(0, span)
    timeline = out_dir / "timeline.png"
    fig.savefig(timeline, dpi=100)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(15, 1.8), constrained_layout=True)
    for seg in analysis.chords:
        ax.barh(0, seg.end - seg.start, left=seg.start, color=chord_colour(seg.label),
                edgecolor="w")  # fmt: skip
        if seg.end - seg.start > span / 80:
            ax.text((seg.start + seg.end) / 2, 0, seg.label, ha="center", va="center", fontsize=7)
    ax.set_yticks([])
    ax.set_xlim(0, span)
    ax.set_xlabel("time (s)")
    ax.set_title(f"chords (key {analysis.key})")
    chords = out_dir / "chords.png"
    fig.savefig(chords, dpi=100)
    plt.close(fig)

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(15, 3.5), constrained_layout=True)
    bpm, strength = tempo_curve(features.onset, frame_rate=fr)
    ax1.plot(bpm, strength, color="tab:blue", lw=1)
    if analysis.tempo > 0:
        for mult, style in ((1.0, "-"), (0.5, ":"), (2.0, ":")):
            ax1.axvline(analysis.tempo * mult, color="tab:red", ls=style, lw=1)
    ax1.set_xscale("log")
    ax1.set_xlim(40, 240)
    ax1.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax1.set_xticks([40, 60, 80, 100, 120, 160, 200, 240], ["40", "60", "80", "100", "120", "160",
                                                            "200", "240"])  # fmt: skip
    ax1.set_xlabel("tempo (bpm)")
    ax1.set_ylabel("onset autocorrelation")
    ax1.set_title(f"tempo evidence (estimate {analysis.tempo:.1f} bpm, red; half/double dotted)")
    if len(analysis.beats) > 1:
        local = 60.0 / np.diff(analysis.beats)
        ax2.plot(analysis.beats[1:], local, ".", ms=3, color="tab:orange")
        ax2.set_ylim(0.8 * local.min(), 1.2 * local.max())
    ax2.set_xlim(0, span)
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("beat-to-beat tempo (bpm)")
    ax2.set_title("tempo over time")
    tempo = out_dir / "tempo.png"
    fig.savefig(tempo, dpi=100)
    plt.close(fig)
    return [timeline, chords, tempo]


def write_html(analysis: Analysis, features: Features, path: Path) -> Path:
    """An offline HTML report: plotly.js is inlined (no CDN), charts are interactive."""
    chart = report_figure(analysis, features).to_html(full_html=False, include_plotlyjs=True)
    return _write_page(analysis, chart, path)


def report_figure(analysis: Analysis, features: Features):
    """The report's plotly figure: loudness with a band per section, onsets/beats/downbeats,
    chroma and chords."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    t = np.arange(features.n_frames) / features.frame_rate
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        row_heights=[0.3, 0.25, 0.35, 0.1],
                        subplot_titles=("loudness and sections", "onsets, beats, downbeats",
                                        "chroma", "chords"))  # fmt: skip
    fig.add_trace(go.Scatter(x=t, y=features.rms, name="RMS", line={"width": 1}), row=1, col=1)
    fig.add_trace(go.Scatter(x=t, y=features.onset, name="onset", line={"width": 1}), row=2, col=1)
    fig.add_trace(go.Scatter(x=analysis.beats, y=np.full(len(analysis.beats), 0.6), mode="markers",
                             name="beats", marker={"size": 4}), row=2, col=1)  # fmt: skip
    fig.add_trace(go.Scatter(x=analysis.downbeats, y=np.full(len(analysis.downbeats), 0.9),
                             mode="markers", name="downbeats", marker={"size": 7, "symbol": "diamond"}),
                  row=2, col=1)  # fmt: skip
    fig.add_trace(go.Heatmap(z=features.chroma.T, x=t, y=_PITCHES, colorscale="Magma",
                             showscale=False, name="chroma"), row=3, col=1)  # fmt: skip
    if analysis.chords:
        colours = [
            "rgb({:.0f},{:.0f},{:.0f})".format(*(255 * np.array(chord_colour(c.label))))
            for c in analysis.chords
        ]
        fig.add_trace(go.Bar(x=[c.end - c.start for c in analysis.chords],
                             base=[c.start for c in analysis.chords], y=["chord"] * len(analysis.chords),
                             orientation="h", text=[c.label for c in analysis.chords],
                             textposition="inside", marker={"color": colours}, name="chords",
                             hovertemplate="%{text}: %{base:.2f} s<extra></extra>"),
                      row=4, col=1)  # fmt: skip
    # Section bands last: plotly attaches a row's shapes to the axes of traces already in that row,
    # and drops them silently when the row has none yet (the bands were never drawn before).
    for seg in analysis.sections:
        fig.add_vrect(x0=seg.start, x1=seg.end, fillcolor=_colour(seg.label), opacity=0.2,
                      line_width=0, row=1, col=1, annotation_text=seg.label,
                      annotation_position="top left")  # fmt: skip
    fig.update_layout(height=950, template="plotly_white", margin={"t": 60, "l": 50, "r": 20})
    return fig


def _write_page(analysis: Analysis, chart: str, path: Path) -> Path:
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
