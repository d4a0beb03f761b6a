"""``renders/<run-id>/index.html``: the run page — the album film and every track in a player,
the analysis plots, the reactivity plot, previews, the summary table and the provenance.

Self-contained and offline: the stylesheet and the one small script are inline, the plots are
inline SVG (:mod:`renderer.run.page_svg`), fonts are the system's, and videos and images are
linked by paths relative to the run folder, so the folder can be moved, zipped or served as is.
Built from ``meta.json`` and the per-track files in ``analysis/`` (:mod:`renderer.run.page_data`);
written atomically at the end of every run, a resumed one included.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from renderer.errors import NoiseToSignalError
from renderer.run.page_data import RunData, load_run, relative_url
from renderer.run.page_style import CSS, SCRIPT
from renderer.run.page_svg import clock
from renderer.run.page_track import attr, title_of, track_article, video_tag

PAGE_NAME = "index.html"


def _cell(text: str, *, num: bool = False) -> str:
    return f'<td class="num">{text}</td>' if num else f"<td>{text}</td>"


def _pct(value: Any) -> str:
    return "—" if value is None else f"{float(value):.0%}"


def summary_table(run: RunData) -> str:
    """The end-of-run summary (the terminal table's columns, plus loudness and sections)."""
    head = ("track", "status", "file", "duration", "render", "fps", "chunks", "sync ms",
            "LUFS in", "onset r", "beats hit", "sections seen")  # fmt: skip
    nums = {"duration", "render", "fps", "sync ms", "LUFS in", "onset r", "beats hit",
            "sections seen"}  # fmt: skip
    ths = "".join(f'<th class="num">{h}</th>' if h in nums else f"<th>{h}</th>" for h in head)
    rows = []
    for data in run.tracks:
        t = data.meta
        react, loud = t.get("reactivity") or {}, t.get("loudness") or {}
        url = relative_url(t.get("output"), run.run_dir)
        name = escape(Path(str(t.get("output") or "")).name) or "—"
        sync, lufs, corr = (
            t.get("sync_error_ms"),
            loud.get("input_lufs"),
            react.get("onset_pearson"),
        )
        status = ('<span class="status-ok">ok</span>' if t.get("ok") else
                  '<span class="status-failed">failed</span>')  # fmt: skip
        cells = [
            f'<a href="#track-{attr(data.id)}">{escape(title_of(t))}</a>',
            status,
            f'<a href="{attr(url)}">{name}</a>' if url else name,
        ]
        numbers = [
            clock(float(t.get("duration") or 0.0)),
            f"{float(t.get('render_seconds') or 0.0):.0f} s",
            f"{float(t.get('fps') or 0.0):.1f}",
            f"{int(t.get('chunks_rendered') or 0)} new / {int(t.get('chunks_skipped') or 0)} reused",
            "—" if sync is None else f"{float(sync):.1f}",
            "—" if lufs is None else f"{float(lufs):.1f}",
            "—" if corr is None else f"{float(corr):.2f}",
            _pct(react.get("beat_accent_rate")),
            _pct(react.get("section_hit_rate")),
        ]
        row = "".join(_cell(c) for c in cells)
        row += "".join(_cell(c, num=i != 3) for i, c in enumerate(numbers))
        rows.append(f"<tr>{row}</tr>")
    return (f'<section class="block" id="summary"><h2>Summary</h2><div class="table-wrap">'
            f'<table><thead><tr>{ths}</tr></thead><tbody>{"".join(rows)}</tbody></table>'
            "</div></section>")  # fmt: skip


def _aspect(meta: dict[str, Any]) -> tuple[int, int] | None:
    size = (meta.get("config") or {}).get("resolution")
    if (
        isinstance(size, list)
        and len(size) == 2
        and all(isinstance(v, int) and v > 0 for v in size)
    ):
        return size[0], size[1]
    return None


def film_block(run: RunData) -> str:
    """The album film with a button per chapter (one per track that rendered); ``""`` when the
    run has no film (a single track, or the film failed)."""
    url = relative_url(run.meta.get("album"), run.run_dir)
    if not url:
        return ""
    done = [d for d in run.tracks if d.meta.get("ok")]
    poster = next((relative_url((d.meta.get("previews") or {}).get("thumbnail"), run.run_dir)
                   for d in done), None)  # fmt: skip
    mime = "video/webm" if url.endswith(".webm") else "video/mp4"
    player = video_tag(sources=[(url, mime)], poster=poster, element_id="album-film",
                       aspect=_aspect(run.meta))  # fmt: skip
    chapters, start = [], 0.0
    for d in done:
        chapters.append(f'<li><button type="button" data-target="album-film" data-seek="{start:.3f}">'
                        f'<span class="mono">{clock(start)}</span>{escape(title_of(d.meta))}'
                        "</button></li>")  # fmt: skip
        start += float(d.meta.get("duration") or 0.0)
    return (f'<section class="block" id="film"><h2>Album film</h2>{player}'
            f'<ul class="chapters">{"".join(chapters)}</ul></section>')  # fmt: skip


def _kv_table(rows: list[tuple[str, str]], *, hashes: bool = False) -> str:
    cls = ' class="hash"' if hashes else ""
    body = "".join(f"<tr><th>{escape(k)}</th><td{cls}>{escape(v)}</td></tr>" for k, v in rows)
    return f'<div class="table-wrap"><table><tbody>{body}</tbody></table></div>'


def _chunk_table(track: dict[str, Any]) -> str:
    chunks = track.get("chunks") or []
    if not chunks:
        return ""
    rows = "".join(
        f'<tr><td class="num">{escape(str(c.get("index", "")))}</td>'
        f'<td class="num">{escape(str(c.get("start", "")))}–{escape(str(c.get("stop", "")))}</td>'
        f'<td class="hash">{escape(str(c.get("chunk_hash", "")))}</td>'
        f'<td class="hash">{escape(str(c.get("segment_sha256", "")))}</td></tr>'
        for c in chunks
    )
    return (f"<details><summary>{escape(title_of(track))}: {len(chunks)} chunks, frame hashes "
            'in meta.json</summary><div class="table-wrap"><table><thead><tr>'
            '<th class="num">chunk</th><th class="num">frames</th><th>frame-hash digest</th>'
            f"<th>segment sha256</th></tr></thead><tbody>{rows}</tbody></table></div></details>")  # fmt: skip


def provenance_block(run: RunData) -> str:
    """How the run was made: seeds, versions, model artefacts and hashes, chunks, config."""
    meta = run.meta
    model = meta.get("model") or {}
    run_rows = [("run id", str(meta.get("run_id", ""))), ("run seed", str(meta.get("seed", ""))),
                ("render time", f"{float(meta.get('render_seconds') or 0.0):.1f} s"),
                ("model dir", str(model.get("dir", ""))), ("backend", str(model.get("backend", ""))),
                ("provider", str(model.get("provider", "")))]  # fmt: skip
    seeds = [(title_of(d.meta), f"seed {d.meta.get('seed', '?')} · preset "
              f"{d.meta.get('preset', '?')} · source {d.meta.get('src', '?')}")
             for d in run.tracks]  # fmt: skip
    versions = [(str(k), str(v)) for k, v in (meta.get("versions") or {}).items()]
    artefacts = [(str(kind), f"{a.get('path', '')}  sha256 {a.get('sha256', '')}")
                 for kind, a in (model.get("artefacts") or {}).items() if isinstance(a, dict)]  # fmt: skip
    links = [(name, relative_url(run.run_dir / name, run.run_dir))
             for name in ("meta.json", "config.resolved.json", "manifest.json")]  # fmt: skip
    link_html = " · ".join(f'<a href="{attr(u)}">{escape(n)}</a>' for n, u in links if u)
    config = json.dumps(meta.get("config") or {}, indent=1, sort_keys=True)
    return ('<section class="block" id="provenance"><h2>Provenance</h2>'
            f'<p class="note">Everything below is in {link_html or "meta.json"}.</p>'
            f"<h3>Run</h3>{_kv_table(run_rows)}<h3>Tracks and seeds</h3>{_kv_table(seeds)}"
            f"<h3>Versions</h3>{_kv_table(versions)}"
            f"<h3>Model artefacts</h3>{_kv_table(artefacts, hashes=True)}"
            f"<h3>Chunks</h3>{''.join(_chunk_table(d.meta) for d in run.tracks)}"
            f'<h3>Resolved config</h3><details><summary>show the config</summary>'
            f'<pre class="config">{escape(config)}</pre></details></section>')  # fmt: skip


def _header(run: RunData) -> str:
    meta = run.meta
    config = meta.get("config") or {}
    size = _aspect(meta)
    total = sum(float(d.meta.get("duration") or 0.0) for d in run.tracks if d.meta.get("ok"))
    failed = sum(1 for d in run.tracks if not d.meta.get("ok"))
    facts = [f"{len(run.tracks)} track(s)" + (f", {failed} failed" if failed else ""),
             clock(total),
             f"{size[0]}×{size[1]}" if size else "",
             f"{config.get('frame_rate')} fps" if config.get("frame_rate") else "",
             str((config.get("encode") or {}).get("profile", "")),
             str((meta.get("model") or {}).get("provider", "")),
             f"rendered in {clock(float(meta.get('render_seconds') or 0.0))}"]  # fmt: skip
    spans = "".join(f"<span>{escape(f)}</span>" for f in facts if f)
    toc = ['<a href="#film">album film</a>'] if relative_url(meta.get("album"), run.run_dir) else []
    toc += ['<a href="#summary">summary</a>']
    toc += [f'<a href="#track-{attr(d.id)}">{escape(title_of(d.meta))}</a>' for d in run.tracks]
    toc += ['<a href="#provenance">provenance</a>']
    return (f'<header class="top"><div class="wrap"><p class="kicker">noise-to-signal · run page'
            f'</p><h1>{escape(str(meta.get("run_id") or run.run_dir.name))}</h1>'
            f'<p class="facts">{spans}</p><nav class="toc">{"".join(toc)}</nav></div></header>')  # fmt: skip


def build_page(run: RunData) -> str:
    """The whole ``index.html`` as a string."""
    aspect = _aspect(run.meta)
    tracks = "".join(track_article(d, run_dir=run.run_dir, size=aspect) for d in run.tracks)
    title = escape(f"{run.meta.get('run_id') or run.run_dir.name} · noise-to-signal")
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<meta name="generator" content="noise-to-signal"><title>{title}</title>'
            f"<style>{CSS}</style></head><body>{_header(run)}<main class=\"wrap\">"
            f"{film_block(run)}{summary_table(run)}{tracks}{provenance_block(run)}</main>"
            '<footer class="wrap">Made by the noise-to-signal renderer. Videos and images are '
            "files in this folder; the page needs no network.</footer>"
            f"<script>{SCRIPT}</script></body></html>\n")  # fmt: skip


def write_run_page(run_dir: Path) -> Path:
    """Build the page from ``run_dir`` and write ``run_dir/index.html`` atomically."""
    from renderer.files import write_text_atomic

    run_dir = Path(run_dir)
    return write_text_atomic(run_dir / PAGE_NAME, build_page(load_run(run_dir)))


def publish_run_page(console, run_dir: Path) -> bool:
    """:func:`write_run_page` for the end of a run: prints where the page is, or why it could
    not be written; returns whether it was."""
    try:
        page = write_run_page(run_dir)
    except NoiseToSignalError as exc:
        from rich.markup import escape as markup_escape

        console.print(f"[red]run page failed:[/red] {markup_escape(str(exc))}")
        return False
    console.print(f"run page: {page}", soft_wrap=True, markup=False)
    return True
