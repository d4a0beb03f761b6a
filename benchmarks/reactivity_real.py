"""Reactivity of real renders: onset r, accents on reference beats with their chance rate, and scene
changes at the album's section boundaries, per GAN preset × clip.

Clips: 10-s excerpts of the real recordings in ``/work/shared/audio/`` (no annotations: the
reference beats are madmom's RNN+DBN when ``madmom`` is importable, else our own tracker — the
table says which) and of the annotated synthetic stress corpus (``benchmarks/stress_corpus.py``
writes exact beats into ``cache/stress/``). Every clip is rendered by the real pipeline
(``python -m renderer.render_track``: mastering, features, analysis, controller, GAN, post-fx,
FFmpeg) at **draft quality** (``--quality draft``: 24 fps, the fast encode, half of
``--resolution``; 480×270 by default), one run per preset. The metric is
:mod:`renderer.run.reactivity` of *this* checkout, on the decoded MP4 against the onset envelope of
the mastered audio the render used; ``lag`` is the measured delay (frames) at which the picture's
change correlates best with the onset envelope (−3..3), the latency the controller compensates.

The album: its three tracks rendered whole at a tiny size (``--album-resolution``, draft) with
their own presets from ``render.yaml``; ``section_hit_rate`` against the tracklist's section starts
(the composer's ground truth) and against our analysis's sections (what ``meta.json`` reports).

``--before TREE`` renders the same clips with another checkout (``git -C /work/main archive HEAD |
tar -x -C /tmp/oldtree``), in its own processes (``PYTHONPATH=TREE``, run from inside it), so
before and after share one run and one metric.

Usage: ``python benchmarks/reactivity_real.py [--before TREE] [--presets a,b] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from renderer.run.reactivity import frame_changes, reactivity_from_changes  # noqa: E402

PRESETS = ("default", "drift", "nocturne", "prism", "pulse")
SHARED = Path("/work/shared/audio")
STRESS = ROOT / "cache" / "stress"
REAL = {"vibe_ace": ("vibe-ace.ogg", 20.0), "brahms": ("brahms-hungarian-dance-5.ogg", 10.0)}
STRESS_CLIPS = ("rock_110", "jazz_160", "ska_150", "waltz_132", "breaks_132", "rubato_keys_84")
FPS = 24.0  # draft quality


def reference_beats(path: Path) -> tuple[np.ndarray, str]:
    """Beats (s) of an unannotated excerpt: madmom RNN+DBN when installed (through
    ``peers.py``, as ``analysis_accuracy.py`` runs it), else ours."""
    from peers import madmom_available, madmom_beats  # sibling module

    if madmom_available():
        return madmom_beats(path, cache=ROOT / "cache" / "bench" / "madmom")[0], "madmom"
    from renderer.analysis import analyze_track

    return np.asarray(analyze_track(path, cache_dir=None).beats), "ours"


def prepare_clips(work: Path, *, seconds: float) -> dict[str, dict]:
    """Excerpt WAVs in ``work/album`` with their reference beats and where those came from."""
    album = work / "album"
    album.mkdir(parents=True, exist_ok=True)
    clips: dict[str, dict] = {}
    sources = [(n, SHARED / f, a, None) for n, (f, a) in REAL.items()]
    sources += [(n, STRESS / f"{n}.wav", 4.0, STRESS / f"{n}.json") for n in STRESS_CLIPS]
    for name, src, start, ann in sources:
        if not src.is_file():
            print(f"skipped {name}: {src} not found", file=sys.stderr)
            continue
        y, sr = sf.read(str(src), always_2d=True, dtype="float32")
        out = album / f"{name}.wav"
        sf.write(str(out), y[int(start * sr) : int((start + seconds) * sr)], sr, subtype="PCM_16")
        if ann is not None:
            beats = np.asarray(json.loads(ann.read_text())["beats"], dtype=float)
            beats, how = beats[(beats >= start) & (beats < start + seconds)] - start, "annotated"
        else:
            beats, how = reference_beats(out)
        clips[name] = {"src": out.name, "beats": beats.tolist(), "reference": how}
    tracklist = [{"id": n, "src": c["src"], "title": n} for n, c in clips.items()]
    (album / "tracklist.json").write_text(json.dumps(tracklist, indent=1))
    return clips


def write_config(path: Path, *, album: Path, tracklist: Path, resolution: str, tracks: list[dict]
                 ) -> Path:  # fmt: skip
    import yaml

    width, height = (int(v) for v in resolution.split("x"))
    config = {
        "output_root": str(path.parent / "out"),
        "frame_rate": 24,
        "resolution": [width, height],
        "seed": 2025,
        "album": {"root": str(album), "tracklist": str(tracklist)},
        "model": {"dir": str(ROOT / "models"), "backend": "torch"},
        "encode": {"profile": "draft", "webm": False},
        "render": {"chunk_seconds": 10, "previews": False},
        "tracks": tracks,
    }
    path.write_text(yaml.safe_dump(config))
    return path


def render(tree: Path, config: Path, *, ids: list[str], preset: str | None) -> Path:
    """Run ``renderer.render_track`` of ``tree`` on tracks ``ids`` of ``config``; the run folder."""
    cmd = [sys.executable, "-m", "renderer.render_track", "--config", str(config), "-q",
           "--track", ",".join(ids), "--quality", "draft", "--keep-frames"]  # fmt: skip
    cmd += ["--preset", preset] if preset else []
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
    runs = sorted((config.parent / "out").glob("run-*"), key=lambda p: p.stat().st_mtime)
    if done.returncode != 0 or not runs:
        raise SystemExit(f"{tree}: render failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return runs[-1]


def measure(run: Path, track: str, *, reference: np.ndarray | None, sections: list[float]
            ) -> dict:  # fmt: skip
    """This checkout's metric on one rendered track of ``run``."""
    from renderer.analysis import Analysis
    from renderer.audio.features import extract_features, to_video_frames

    frames = to_video_frames(extract_features(run / "audio" / f"{track}.wav", cache_dir=None),
                             fps=FPS)  # fmt: skip
    analysis = Analysis.from_dict(json.loads((run / "analysis" / f"{track}.json").read_text()))
    change = frame_changes(run / f"{track}.mp4")
    onset = np.asarray(frames.onset, dtype=np.float64)
    result = reactivity_from_changes(change, fps=FPS, onset=onset, beats=analysis.beats,
                                     section_starts=np.asarray(sections), reference_beats=reference)  # fmt: skip
    own = reactivity_from_changes(change, fps=FPS, onset=onset, beats=analysis.beats,
                                  section_starts=np.array([s.start for s in analysis.sections]))  # fmt: skip
    result["own_section_hit_rate"] = own["section_hit_rate"]
    result["lag"] = best_lag(change, onset)
    return result


def best_lag(change: np.ndarray, onset: np.ndarray, *, max_lag: int = 3) -> int:
    """Frames by which the picture's change follows the onset envelope (argmax of Pearson)."""
    n = min(len(change), len(onset))
    change, onset = change[:n], onset[:n]
    scores = {}
    for lag in range(-max_lag, max_lag + 1):
        x = onset[max(0, -lag) : n - max(0, lag)]
        y = change[max(0, lag) : n - max(0, -lag)]
        scores[lag] = np.corrcoef(x, y)[0, 1] if np.ptp(x) and np.ptp(y) else -1.0
    return int(max(scores, key=scores.get))


def run_clips(tree: Path, work: Path, clips: dict, presets, resolution: str) -> list[dict]:
    rows = []
    for preset in presets:
        sub = work / f"{tree.name}-{preset}"
        sub.mkdir(parents=True, exist_ok=True)
        config = write_config(sub / "render.yaml", album=work / "album",
                              tracklist=work / "album" / "tracklist.json", resolution=resolution,
                              tracks=[])  # fmt: skip
        run = render(tree, config, ids=list(clips), preset=preset)
        for name, clip in clips.items():
            r = measure(run, name, reference=np.asarray(clip["beats"]), sections=[])
            rows.append({"preset": preset, "clip": name, "reference": clip["reference"], **r})
            print(
                f"  {tree.name:10s} {preset:9s} {name:15s} r {r['onset_pearson']:.3f} "
                f"ref {r['reference_beat_accent_rate']:.2f} of {r['reference_beats']} chance "
                f"{r['reference_beat_accent_chance']:.2f} lag {r['lag']}",
                flush=True,
            )
    return rows


def run_album(tree: Path, work: Path, resolution: str) -> list[dict]:
    """The bundled album at a tiny size with render.yaml's per-track presets."""
    import yaml

    tracklist = json.loads((ROOT / "album" / "tracklist.json").read_text())
    presets = {t["id"]: t.get("preset") for t in yaml.safe_load((ROOT / "render.yaml").read_text())["tracks"]}  # fmt: skip
    sub = work / f"{tree.name}-album"
    sub.mkdir(parents=True, exist_ok=True)
    tracks = [{"id": t["id"], "preset": presets.get(t["id"]) or "default"} for t in tracklist]
    config = write_config(sub / "render.yaml", album=ROOT / "album",
                          tracklist=ROOT / "album" / "tracklist.json", resolution=resolution,
                          tracks=tracks)  # fmt: skip
    run = render(tree, config, ids=[t["id"] for t in tracklist], preset=None)
    rows = []
    for t in tracklist:
        starts = [s["start"] for s in t["sections"]]
        r = measure(run, t["id"], reference=None, sections=starts)
        rows.append({"track": t["id"], "preset": presets.get(t["id"]), **r})
        print(
            f"  {tree.name:10s} album {t['id']:13s} sections hit {r['section_hit_rate']:.2f} "
            f"(vs our analysis {r['own_section_hit_rate']})",
            flush=True,
        )
    return rows


def table(rows: list[dict]) -> str:
    lines = ["| preset | clip (reference) | onset r | beats accented | chance | lag |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for r in rows:
        if not r.get("reference_beats"):
            lines.append(f"| {r['preset']} | {r['clip']} ({r['reference']}) | "
                         f"{r['onset_pearson']:.3f} | no reference beats | | {r['lag']} |")  # fmt: skip
            continue
        lines.append(f"| {r['preset']} | {r['clip']} ({r['reference']}) | {r['onset_pearson']:.3f} "
                     f"| {r['reference_beat_accent_rate']:.2f} | "
                     f"{r['reference_beat_accent_chance']:.2f} | {r['lag']} |")  # fmt: skip
    for preset in dict.fromkeys(r["preset"] for r in rows):
        sel = [r for r in rows if r["preset"] == preset]
        beat = [r for r in sel if r.get("reference_beats")]  # clips with reference beats
        lines.append(f"| **{preset}** | mean of {len(sel)} (beats: {len(beat)}) | "
                     f"**{np.mean([r['onset_pearson'] for r in sel]):.3f}** | "
                     f"**{np.mean([r['reference_beat_accent_rate'] for r in beat]):.2f}** | "
                     f"{np.mean([r['reference_beat_accent_chance'] for r in beat]):.2f} | |")  # fmt: skip
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--resolution", default="960x540", help="before draft halves it")
    parser.add_argument("--album-resolution", default="320x180")
    parser.add_argument("--no-album", action="store_true")
    parser.add_argument("--before", type=Path, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    presets = [p for p in args.presets.split(",") if p]
    trees = [ROOT] + ([args.before] if args.before else [])
    report: dict = {"draft": True, "fps": FPS, "resolution": args.resolution}
    with tempfile.TemporaryDirectory(prefix="reactivity-") as tmp:
        work = Path(tmp)
        clips = prepare_clips(work, seconds=args.seconds)
        for tree in trees:
            label = "before" if tree is args.before else "after"
            report[label] = {"clips": run_clips(tree, work, clips, presets, args.resolution)}
            if not args.no_album:
                report[label]["album"] = run_album(tree, work, args.album_resolution)
    for label in ("before", "after"):
        if label in report:
            print(f"\n## {label} (draft quality, {args.resolution} halved, 24 fps)\n")
            print(table(report[label]["clips"]))
            for r in report[label].get("album", []):
                print(
                    f"album {r['track']} ({r['preset']}): section_hit_rate vs tracklist "
                    f"{r['section_hit_rate']}, vs our analysis {r['own_section_hit_rate']}"
                )
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
