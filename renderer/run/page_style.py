"""The run page's stylesheet and its one script, inlined so ``index.html`` needs nothing else.

System fonts only (no web font to fetch), a dark theme, one column up to 1200 px wide; the SVG
plots are styled here by class so :mod:`renderer.run.page_svg` writes only geometry.
"""

from __future__ import annotations

CSS = """
:root { color-scheme: dark; --bg: #0e1014; --card: #161a21; --line: #262c36; --text: #e4e7ed;
  --muted: #9099a8; --accent: #79a6f2; --ok: #6cc48a; --bad: #ee6d6d; --warn: #e5b454; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; background: var(--bg); color: var(--text); line-height: 1.45;
  font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Noto Sans", "DejaVu Sans",
  sans-serif; }
a { color: var(--accent); text-decoration: none; }
a:hover { text-decoration: underline; }
code, pre, .mono { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono",
  monospace; font-size: 12.5px; }
.wrap { max-width: 1200px; margin: 0 auto; padding: 0 24px; }
header.top { border-bottom: 1px solid var(--line); background: #12151b; padding: 22px 0 14px; }
.kicker { margin: 0; color: var(--muted); font-size: 12px; letter-spacing: .08em;
  text-transform: uppercase; }
h1 { margin: 4px 0 6px; font-size: 26px; font-weight: 650; word-break: break-word; }
h2 { margin: 0 0 12px; font-size: 19px; font-weight: 620; }
h3 { margin: 18px 0 8px; font-size: 13px; font-weight: 600; color: var(--muted);
  letter-spacing: .05em; text-transform: uppercase; }
.facts { margin: 0; color: var(--muted); }
.facts span + span::before { content: "·"; margin: 0 8px; color: #4a5260; }
nav.toc { margin-top: 12px; display: flex; flex-wrap: wrap; gap: 6px 16px; font-size: 14px; }
main { padding: 18px 0 40px; }
section.block, article.track { background: var(--card); border: 1px solid var(--line);
  border-radius: 10px; padding: 18px 20px; margin: 18px 0; }
.subtitle { color: var(--muted); font-weight: 400; font-size: 14px; margin-left: 8px; }
.chips { display: flex; flex-wrap: wrap; gap: 6px; margin: 0 0 12px; padding: 0; list-style: none; }
.chips li { background: #1f242d; border: 1px solid var(--line); border-radius: 999px;
  padding: 2px 10px; font-size: 13px; color: #c9ceda; }
.status-ok { color: var(--ok); } .status-failed { color: var(--bad); }
.media { display: grid; grid-template-columns: minmax(0, 2fr) minmax(220px, 1fr); gap: 18px;
  align-items: start; }
@media (max-width: 820px) { .media { grid-template-columns: 1fr; } }
video.player { width: 100%; max-height: 72vh; aspect-ratio: var(--aspect, 16 / 9);
  background: #000; border-radius: 6px; display: block; }
dl.facts-list { margin: 0; display: grid; grid-template-columns: auto 1fr; gap: 4px 12px;
  font-size: 14px; }
dl.facts-list dt { color: var(--muted); } dl.facts-list dd { margin: 0; }
.note { color: var(--muted); font-size: 14px; margin: 6px 0; }
.error { color: var(--bad); background: #2a1719; border: 1px solid #4d2326; border-radius: 6px;
  padding: 8px 12px; white-space: pre-wrap; word-break: break-word; }
.warning { color: var(--warn); margin: 4px 0; font-size: 14px; }
.chapters { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0 0; padding: 0;
  list-style: none; }
.chapters button { background: #1f242d; color: var(--text); border: 1px solid var(--line);
  border-radius: 6px; padding: 5px 10px; font: inherit; font-size: 13px; cursor: pointer; }
.chapters button:hover { border-color: var(--accent); }
.chapters .mono { color: var(--muted); margin-right: 6px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13.5px; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid var(--line);
  vertical-align: top; }
th { color: var(--muted); font-weight: 600; white-space: nowrap; }
#summary td { white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.hash { font-family: ui-monospace, Menlo, Consolas, "DejaVu Sans Mono", monospace;
  font-size: 12px; word-break: break-all; }
.gallery { display: grid; grid-template-columns: repeat(auto-fill, minmax(200px, 1fr)); gap: 12px; }
figure { margin: 0; } figure img { width: 100%; height: auto; display: block; border-radius: 4px;
  background: #000; }
figcaption { color: var(--muted); font-size: 12.5px; margin-top: 4px; }
svg.plot { width: 100%; height: auto; display: block; margin: 4px 0 2px; }
svg .lane { fill: #12151b; }
svg .axis, svg .tick { stroke: #4a5260; stroke-width: 1; }
svg .tick-label { fill: var(--muted); font-size: 11px; text-anchor: middle; }
svg .tick-label.end { text-anchor: end; }
svg .row-label { fill: var(--muted); font-size: 11.5px; text-anchor: end; }
svg .seg-label { fill: #fff; font-size: 11.5px; pointer-events: none; }
svg .legend { fill: #c9ceda; font-size: 11.5px; }
svg rect.section, svg rect.chord { stroke: var(--card); stroke-width: 1; }
svg .beat { stroke: #8b95a7; stroke-width: 1; }
svg .downbeat { stroke: #f2c14e; stroke-width: 1.6; }
svg .tempo-curve { fill: none; stroke: var(--accent); stroke-width: 1.6; }
svg .tempo-global { stroke: #f2c14e; stroke-width: 1; stroke-dasharray: 5 4; }
svg .change { fill: rgba(121, 166, 242, .45); stroke: var(--accent); stroke-width: .8; }
svg .onset { fill: none; stroke: #f28b6c; stroke-width: 1; stroke-opacity: .85; }
.swatch.key-change { background: rgba(121, 166, 242, .6); }
.swatch.key-onset { background: #f28b6c; height: 2px; vertical-align: 3px; }
.swatch.key-section { background: #f2c14e; width: 2px; }
svg .section-mark { stroke: #f2c14e; stroke-width: 1; stroke-dasharray: 3 3; }
.plot-legend { color: var(--muted); font-size: 12.5px; margin: 0 0 6px; }
.plot-legend .key { white-space: nowrap; }
.swatch { display: inline-block; width: 10px; height: 10px; border-radius: 2px;
  margin: 0 4px 0 10px; vertical-align: -1px; }
details { margin: 8px 0; } summary { cursor: pointer; color: var(--accent); }
pre.config { max-height: 480px; overflow: auto; background: #101319; border: 1px solid var(--line);
  border-radius: 6px; padding: 10px 12px; }
footer { color: var(--muted); font-size: 13px; padding: 0 0 30px; }
"""

# Chapter buttons seek the album film; nothing else runs.
SCRIPT = """
document.querySelectorAll("button[data-seek]").forEach(function (b) {
  b.addEventListener("click", function () {
    var v = document.getElementById(b.dataset.target);
    if (!v) { return; }
    v.currentTime = parseFloat(b.dataset.seek);
    var p = v.play();
    if (p && p.catch) { p.catch(function () {}); }
  });
});
"""
