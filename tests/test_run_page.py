"""The run page (``renders/<run-id>/index.html``): the HTML builder on hand-made run folders
(escaping, relative paths, missing pieces, shape counts), and a real tiny render opened in a real
headless browser (Debian's ``chromium-headless-shell``, or its ``chromium``, driven by Playwright):
no console errors, every video loads and plays, the analysis shapes are all drawn, and a screenshot
is written."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from renderer.run.page import build_page, publish_run_page, write_run_page
from renderer.run.page_data import PageError, load_run, relative_url, write_track_data
from renderer.run.page_svg import downsample_mean, local_tempo, tempo_svg, timeline_svg
from renderer.run.reactivity import reactivity_series

HOSTILE = '<script>alert("x")</script> & <b>"Q"</b>'


def analysis_dict(*, duration=8.0, sections=3, beats=16, chords=("Am", "F", "N")) -> dict:
    bounds = np.linspace(0.0, duration, sections + 1)
    cuts = np.linspace(0.0, duration, len(chords) + 1)
    grid = [round(float(t), 4) for t in np.linspace(0.25, duration - 0.25, beats)]
    return {
        "duration": duration, "tempo": 120.0, "tempo_confidence": 0.8, "key": "Am",
        "key_confidence": 0.9, "beats": grid, "downbeats": grid[::4],
        "sections": [{"start": float(a), "end": float(b), "label": f"part {i} ({'ABC'[i % 3]})"}
                     for i, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))],
        "chords": [{"start": float(a), "end": float(b), "label": c}
                   for a, b, c in zip(cuts[:-1], cuts[1:], chords, strict=True)],
    }  # fmt: skip


def fake_run(run_dir: Path, *, title: str = "Song", with_files: bool = True) -> dict:
    """A run folder with meta.json (absolute paths, as the renderer writes) and small files."""
    run_dir.mkdir(parents=True, exist_ok=True)
    names = ["t0.mp4", "t0.webm", "album.mp4", "previews/t0_000012_intro.png",
             "previews/t0.gif", "thumbnails/t0.jpg"]  # fmt: skip
    if with_files:
        from PIL import Image

        for name in names:
            (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
            if name.endswith((".png", ".gif", ".jpg")):
                Image.new("RGB", (32, 18), (40, 80, 120)).save(run_dir / name)
            else:
                (run_dir / name).write_bytes(b"not a real video")
    track = {
        "id": "t0", "title": title, "ok": True, "preset": "pulse", "seed": 7, "src": "/a/b.wav",
        "output": str(run_dir / "t0.mp4"), "webm": str(run_dir / "t0.webm"), "frames": 192,
        "duration": 8.0, "render_seconds": 4.0, "fps": 48.0, "chunks_rendered": 8,
        "chunks_skipped": 0, "sync_error_ms": 0.0,
        "loudness": {"input_lufs": -20.0, "gain_db": 6.0, "peak_db": -1.0, "target_lufs": -14.0},
        "analysis": {"tempo": 120.0, "key": "Am"},
        "reactivity": {"onset_pearson": 0.3, "beat_accent_rate": 0.9, "beat_accent_chance": 0.3,
                       "section_hit_rate": 0.5},
        "previews": {"keyframes": [str(run_dir / names[3])], "gif": str(run_dir / names[4]),
                     "thumbnail": str(run_dir / names[5])},
        "chunks": [{"index": 0, "start": 0, "stop": 24, "chunk_hash": "ab" * 32,
                    "segment_sha256": "cd" * 32, "seconds": 0.5, "frame_hashes": []}],
        "warnings": [],
    }  # fmt: skip
    meta = {
        "run_id": "run-1234", "config": {"resolution": [256, 144], "frame_rate": 24,
                                         "encode": {"profile": "youtube"}},
        "seed": 3, "render_seconds": 9.0, "album": str(run_dir / "album.mp4"),
        "model": {"dir": "/m", "backend": "onnx", "provider": "CPUExecutionProvider",
                  "artefacts": {"onnx": {"path": "g.onnx", "sha256": "ef" * 32}}},
        "versions": {"numpy": "2.0", "ffmpeg": "9.0"}, "tracks": [track],
    }  # fmt: skip
    (run_dir / "meta.json").write_text(json.dumps(meta))
    return meta


def count(html: str, tag: str, cls: str) -> int:
    return len(re.findall(rf'<{tag} class="{cls}"', html))


# ---------------------------------------------------------------- builder, no browser


def test_every_user_string_is_escaped(tmp_path):
    meta = fake_run(tmp_path / "run", title=HOSTILE)
    meta["tracks"][0]["warnings"] = [HOSTILE]
    meta["tracks"][0]["preset"] = HOSTILE
    (tmp_path / "run" / "meta.json").write_text(json.dumps(meta))
    analysis = analysis_dict()
    analysis["sections"][0]["label"] = HOSTILE
    analysis["chords"][0]["label"] = HOSTILE
    series = reactivity_series(np.ones(10), fps=24.0, onset=np.arange(10.0))
    write_track_data(tmp_path / "run", "t0", analysis=analysis, series=series)
    html = build_page(load_run(tmp_path / "run"))
    assert "<script>alert" not in html and "<b>" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;b&gt;" in html
    assert html.count("<script>") == 1  # the page's own chapter script, nothing else


def test_links_are_relative_and_survive_a_moved_folder(tmp_path):
    fake_run(tmp_path / "old")
    moved = tmp_path / "new"
    shutil.move(tmp_path / "old", moved)  # meta.json still names .../old/...
    html = build_page(load_run(moved))
    assert str(tmp_path) not in html.replace("/a/b.wav", "")  # no absolute link anywhere
    sources = re.findall(r'<source src="([^"]+)" type="([^"]+)"', html)
    assert ("t0.webm", "video/webm") in sources and ("t0.mp4", "video/mp4") in sources
    assert sources.index(("t0.webm", "video/webm")) < sources.index(("t0.mp4", "video/mp4"))
    assert 'src="album.mp4"' in html and 'poster="thumbnails/t0.jpg"' in html
    assert 'src="previews/t0_000012_intro.png"' in html and 'src="previews/t0.gif"' in html
    assert not re.search(r'(src|href)="(https?:)?//', html)  # nothing fetched from anywhere


def test_relative_url_encodes_and_refuses_what_is_not_there(tmp_path):
    (tmp_path / "my clip #1.mp4").write_bytes(b"x")
    assert relative_url(tmp_path / "my clip #1.mp4", tmp_path) == "my%20clip%20%231.mp4"
    assert relative_url(tmp_path / "gone.mp4", tmp_path) is None
    assert relative_url(None, tmp_path) is None
    (tmp_path.parent / "outside.mp4").write_bytes(b"x")
    assert relative_url(tmp_path.parent / "outside.mp4", tmp_path) is None


def test_missing_optional_pieces_do_not_crash(tmp_path):
    meta = fake_run(tmp_path / "run", with_files=False)
    meta["album"] = None
    meta["tracks"][0].update(ok=False, error="t0.wav: <not audio>", output=None, webm=None,
                             previews={}, reactivity={}, loudness={}, analysis={}, chunks=[])  # fmt: skip
    del meta["versions"], meta["model"]
    (tmp_path / "run" / "meta.json").write_text(json.dumps(meta))
    (tmp_path / "run" / "analysis").mkdir()
    (tmp_path / "run" / "analysis" / "t0.reactivity.json").write_text("{not json")
    html = build_page(load_run(tmp_path / "run"))
    assert "<video" not in html and 'id="film"' not in html
    assert "No video file for this track" in html and "No analysis recorded" in html
    assert "No reactivity series recorded" in html and "t0.wav: &lt;not audio&gt;" in html
    assert 'class="status-failed"' in html


def test_load_run_names_the_file_when_meta_is_missing_or_broken(tmp_path):
    with pytest.raises(PageError, match=r"meta\.json: not found"):
        load_run(tmp_path)
    (tmp_path / "meta.json").write_text('{"tracks": 3}')
    with pytest.raises(PageError, match=r"meta\.json: field 'tracks'"):
        load_run(tmp_path)
    (tmp_path / "meta.json").write_text("[1,")
    with pytest.raises(PageError, match=r"meta\.json: not valid JSON"):
        load_run(tmp_path)


def test_publish_reports_a_failure_and_writes_a_good_page_atomically(tmp_path):
    from rich.console import Console

    console = Console(record=True, width=200, color_system=None)
    assert publish_run_page(console, tmp_path) is False
    assert "run page failed" in console.export_text() and not (tmp_path / "index.html").exists()
    fake_run(tmp_path)
    assert publish_run_page(console, tmp_path) is True
    assert (tmp_path / "index.html").read_text().startswith("<!doctype html>")
    assert not [p for p in tmp_path.iterdir() if "partial" in p.name]
    assert write_run_page(tmp_path) == tmp_path / "index.html"


def test_timeline_draws_one_shape_per_item():
    a = analysis_dict(sections=5, beats=37, chords=("Am", "F", "C", "N", "G"))
    svg = timeline_svg(a)
    assert count(svg, "rect", "section") == 5
    assert count(svg, "rect", "chord") + count(svg, "rect", "chord chord-none") == 5
    assert count(svg, "line", "beat") == 37 and count(svg, "line", "downbeat") == 10
    xs = [float(x) for x in re.findall(r'<line class="beat" x1="([\d.]+)"', svg)]
    assert xs == sorted(xs) and 0 < xs[0] < xs[-1] < 960  # in time order, inside the plot


def test_tempo_plot_follows_the_beat_intervals():
    times, bpm = local_tempo([0.0, 0.5, 1.0, 1.6])
    assert times == [0.25, 0.75, 1.3] and bpm == pytest.approx([120, 120, 100])
    assert tempo_svg({"duration": 2.0, "tempo": 0.0, "beats": [0.5]}) is None
    svg = tempo_svg(analysis_dict())
    assert svg is not None and svg.count('class="tempo-curve"') == 1


def test_reactivity_series_shares_one_time_axis():
    s = reactivity_series(np.linspace(0, 0.1, 50), fps=25.0, onset=np.arange(40.0) * 2)
    assert len(s["time"]) == len(s["change"]) == len(s["onset"]) == 40  # the shorter one
    assert s["time"][1] == pytest.approx(1 / 25) and s["onset"].max() == pytest.approx(1.0)
    assert not reactivity_series(np.ones(5), fps=25.0, onset=np.zeros(5))["onset"].any()
    with pytest.raises(ValueError, match="fps"):
        reactivity_series(np.ones(5), fps=0.0, onset=np.ones(5))


def test_downsample_bounds_the_size_and_keeps_the_shape():
    values = np.r_[np.zeros(5_000), np.ones(5_000)]
    small = downsample_mean(values, points=500)
    assert len(small) == 500 and small[:250] == [0.0] * 250 and small[250:] == [1.0] * 250
    assert np.mean(downsample_mean(np.arange(1001.0), points=7)) == pytest.approx(500, rel=0.01)
    assert downsample_mean([1.0, 2.0], points=500) == [1.0, 2.0]


# ---------------------------------------------------------------- a real run, a real browser


def chromium_path() -> str | None:
    return (
        shutil.which("chromium-headless-shell")
        or shutil.which("chromium")
        or shutil.which("chromium-browser")
    )


def wait_for_browser(timeout: float = 600.0) -> None:
    """.ci/run installs chromium with apt beside the tests and names in ``NTS_BROWSER_READY`` the
    file its apt job writes when it ends (its exit status): wait for that file."""
    ready = os.environ.get("NTS_BROWSER_READY")
    if not ready:
        return
    deadline = time.monotonic() + timeout
    while not Path(ready).is_file():
        if time.monotonic() > deadline:
            pytest.fail(f"chromium's apt install did not end within {timeout:.0f} s ({ready})")
        time.sleep(0.5)
    status = Path(ready).read_text().strip()
    assert status == "0", f"installing chromium failed (exit status {status}; see cache/apt.log)"


@pytest.fixture
def rendered_run(album_run) -> Path:
    """The shared real tiny album render (2 tracks × 3 s, MP4 + WebM, album film)."""
    return album_run.run_dir


def test_every_run_writes_the_page_and_a_resumed_run_rewrites_it(rendered_run):
    from renderer.render_album import main as album_main

    page = rendered_run / "index.html"
    html = page.read_text(encoding="utf-8")
    for name in ("t0", "t1"):
        analysis = json.loads((rendered_run / "analysis" / f"{name}.json").read_text())
        article = html.split(f'id="track-{name}"')[1].split("</article>")[0]
        assert count(article, "rect", "section") == len(analysis["sections"])
        assert count(article, "line", "beat") == len(analysis["beats"]) > 0
    page.write_text("stale")
    config = rendered_run.parents[1] / "render.yaml"
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(config.parent)
        assert album_main(["--config", str(config), "--resume"]) == 0
    assert page.read_text(encoding="utf-8").startswith("<!doctype html>")


@pytest.mark.skipif(chromium_path() is None and not os.environ.get("NTS_REQUIRE_BROWSER"),
                    reason="no chromium here (.ci/run installs it and sets NTS_REQUIRE_BROWSER)")  # fmt: skip
def test_the_page_plays_in_a_real_browser(rendered_run, tmp_path):
    from playwright.sync_api import sync_playwright

    wait_for_browser()
    errors, remote = [], []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium_path(), args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1366, "height": 900})
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("request", lambda r: None if r.url.startswith(("file:", "data:")) else remote.append(r.url))  # fmt: skip
        page.goto((rendered_run / "index.html").as_uri(), wait_until="load")
        videos = page.evaluate(PLAY_EVERY_VIDEO)
        shapes = page.evaluate(COUNT_SHAPES)
        page.evaluate(SCROLL_THROUGH)  # the gallery images load lazily
        page.wait_for_function("Array.from(document.images).every(i => i.complete)")
        images = page.evaluate("Array.from(document.images).map(i => i.naturalWidth)")
        shot = tmp_path / "run_page.png"
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert errors == [] and remote == []
    assert len(videos) == 3  # the album film and both tracks
    for v in videos:
        assert v["error"] is None and v["readyState"] >= 2, v
        assert v["after"] > v["before"], v  # it plays: the clock moved
    by_id = {v["id"]: v for v in videos}
    assert by_id["video-t0"]["src"].endswith("t0.webm")  # WebM is the first choice
    assert by_id["album-film"]["src"].endswith("album.mp4")  # H.264/AAC plays here too
    for name in ("t0", "t1"):
        analysis = json.loads((rendered_run / "analysis" / f"{name}.json").read_text())
        got = shapes[f"track-{name}"]
        assert got["section"] == len(analysis["sections"]) >= 1
        assert got["beat"] == len(analysis["beats"]) > 0
        assert got["downbeat"] == len(analysis["downbeats"])
        assert got["chord"] == len(analysis["chords"])
        assert got["change"] == 1 and got["onset"] == 1  # the reactivity plot
    assert images and all(w > 0 for w in images)
    from PIL import Image

    with Image.open(shot) as im:
        assert im.width == 1366 and im.height > 2000


PLAY_EVERY_VIDEO = """async () => {
  const out = [];
  for (const v of document.querySelectorAll("video")) {
    v.muted = true; v.preload = "auto"; v.load();
    await new Promise((ok) => { if (v.readyState >= 2) ok(); else {
      v.addEventListener("loadeddata", ok, {once: true}); v.addEventListener("error", ok, {once: true});
      setTimeout(ok, 10000); } });
    const before = v.currentTime, readyState = v.readyState;
    try { await v.play(); } catch (e) { out.push({id: v.id, error: String(e)}); continue; }
    await new Promise((ok) => { const t0 = performance.now(); (function wait() {
      if (v.currentTime > before + 0.2 || performance.now() - t0 > 5000) ok();
      else setTimeout(wait, 50); })(); });
    v.pause();
    out.push({id: v.id, src: v.currentSrc, readyState, before, after: v.currentTime,
              error: v.error && v.error.code});
  }
  return out;
}"""

COUNT_SHAPES = """() => Object.fromEntries(Array.from(document.querySelectorAll("article.track")).map(
  (a) => [a.id, {section: a.querySelectorAll("svg rect.section").length,
                 chord: a.querySelectorAll("svg rect.chord").length,
                 beat: a.querySelectorAll("svg line.beat").length,
                 downbeat: a.querySelectorAll("svg line.downbeat").length,
                 change: a.querySelectorAll("svg polygon.change").length,
                 onset: a.querySelectorAll("svg polyline.onset").length}]))"""

SCROLL_THROUGH = """async () => {
  for (let y = 0; y < document.body.scrollHeight; y += 500) {
    window.scrollTo(0, y); await new Promise((ok) => setTimeout(ok, 30)); }
  window.scrollTo(0, 0);
}"""
