"""``index.html`` of an exploration: one self-contained page (inline style and script, no
network), the pictures and clips beside it. Every string from outside — file names, titles,
labels, YAML, anchor tags — is HTML-escaped; the config of a tile is the text of its ``<pre>``,
which the copy button puts on the clipboard unchanged."""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; background: #111; color: #ddd; }
h1, h2 { font-weight: 600; } a { color: #8cf; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 1em; }
.tile { background: #1c1c1c; padding: .6em; border-radius: 6px; }
.tile.failed { outline: 2px solid #c44; }
.tile img, .tile video { width: 100%; display: block; margin: .3em 0; }
.tile .label { font-weight: 600; } .tile .note { color: #999; font-size: 12px; }
pre { background: #000; color: #cfc; padding: .5em; overflow-x: auto; font-size: 11px; }
button { font: inherit; } .anchors { display: flex; flex-wrap: wrap; gap: .5em; }
.anchors figure { margin: 0; width: 160px; } .anchors img { width: 160px; display: block; }
.anchors figcaption { font-size: 11px; color: #aaa; }
"""

SCRIPT = """
for (const button of document.querySelectorAll("button.copy")) {
  button.addEventListener("click", () => {
    const text = document.getElementById(button.dataset.target).textContent;
    navigator.clipboard.writeText(text).then(() => { button.textContent = "copied"; });
  });
}
"""


@dataclass(frozen=True)
class AnchorStill:
    """One anchor decoded without post-processing: ``image`` is the file beside the gallery."""

    backend: str
    id: str
    image: str  # relative to the gallery folder
    tags: tuple[str, ...]
    stats: dict


@dataclass(frozen=True)
class TileView:
    """What the page shows of one tile (paths relative to the page)."""

    id: str
    label: str
    yaml: str
    config_file: str
    sheet: str | None = None
    clip: str | None = None
    frames: int = 0
    error: str | None = None


def esc(value: object) -> str:
    """``value`` as text safe inside HTML elements and quoted attributes."""
    return html.escape(str(value), quote=True)


def tile_html(view: TileView) -> str:
    pre_id = f"cfg-{view.id}"
    parts = [f'<div class="tile{" failed" if view.error else ""}" id="{esc(view.id)}">',
             f'<div class="label">{esc(view.id)} · {esc(view.label)}</div>']  # fmt: skip
    if view.sheet:
        parts.append(f'<img src="{esc(view.sheet)}" alt="frames of {esc(view.id)}, one a second"'
                     ' loading="lazy">')  # fmt: skip
    if view.clip:
        parts.append(f'<video src="{esc(view.clip)}" controls muted loop preload="none" '
                     'playsinline></video>')  # fmt: skip
    note = f"{view.frames} frames" if not view.error else f"failed: {view.error}"
    parts.append(f'<div class="note">{esc(note)}</div>')
    parts.append(f'<details><summary>config (<a href="{esc(view.config_file)}">'
                 f'{esc(view.config_file)}</a>)</summary>'
                 f'<button class="copy" data-target="{esc(pre_id)}">copy</button>'
                 f'<pre id="{esc(pre_id)}">{esc(view.yaml)}</pre></details>')  # fmt: skip
    parts.append("</div>")
    return "\n".join(parts)


def anchors_html(stills: Sequence[AnchorStill]) -> str:
    if not stills:
        return ""
    rows = []
    for backend in dict.fromkeys(s.backend for s in stills):
        figures = []
        for s in (s for s in stills if s.backend == backend):
            caption = s.id + (f" ({', '.join(s.tags)})" if s.tags else "")
            figures.append(f'<figure><img src="{esc(s.image)}" alt="anchor {esc(s.id)}">'
                           f"<figcaption>{esc(caption)}</figcaption></figure>")  # fmt: skip
        rows.append(f'<h3>{esc(backend)}</h3>\n<div class="anchors">{"".join(figures)}</div>')
    return ("<h2>Anchors of the model</h2>\n<p>Each backend's anchor latents decoded as they are "
            "(no post-processing): the pictures the controller drifts between.</p>\n"
            + "\n".join(rows))  # fmt: skip


def gallery_html(*, title: str, intro: Sequence[str], tiles: Sequence[TileView],
                 stills: Sequence[AnchorStill]) -> str:  # fmt: skip
    """The whole page."""
    paragraphs = "\n".join(f"<p>{esc(line)}</p>" for line in intro)
    grid = "\n".join(tile_html(v) for v in tiles)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{esc(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f'<h1>{esc(title)}</h1>\n{paragraphs}\n<h2>Tiles</h2>\n<div class="grid">\n{grid}\n'
        f"</div>\n{anchors_html(stills)}\n<script>{SCRIPT}</script>\n</body>\n</html>\n"
    )
