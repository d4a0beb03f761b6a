"""The audio side of a track: master (trim + loudness), features and analysis, all cached."""

from __future__ import annotations

from pathlib import Path

from renderer.run.records import PreparedTrack


def prepare_track(config, plan, *, run_dir: Path, cache_root: Path) -> PreparedTrack:
    """Master the audio (trim + loudness) and analyse it. Raises AudioError for bad audio.

    Where the track has stems (``plan.stems``), the drum, bass and harmonic signals of its
    features come from them (:func:`renderer.audio.stems.apply_stems`); the analysis is the mix's.
    """
    from renderer.analysis import analyze_track
    from renderer.audio.features import to_video_frames
    from renderer.audio.providers import extract
    from renderer.audio.stems import apply_stems, find_stems

    audio = _master(config, plan, run_dir)
    features = extract("spectral", audio.path, cache_dir=cache_root / "features")  # registry
    stems = find_stems(getattr(plan, "stems", None))
    if stems:
        features = apply_stems(features, stems, src=plan.track.src, trim_start=plan.trim.start,
                               trim_end=plan.trim.end, cache_dir=cache_root / "stems")  # fmt: skip
    analysis = analyze_track(audio.path, cache_dir=cache_root / "analysis",
                             beat_tracker=config.analysis.beat_tracker)  # fmt: skip
    fps = config.frame_rate
    frames = to_video_frames(features, fps=fps)
    k = config.render.oversample
    sub = frames if k == 1 else to_video_frames(features, fps=fps * k)
    return PreparedTrack(plan, audio, frames, sub, analysis, frames.n_frames)


def remaster(config, plan, run_dir: Path) -> Path:
    """The track's mastered WAV again (deterministic), for an album film whose tracks were
    finished by an earlier invocation of the run (their WAVs are removed after success)."""
    return _master(config, plan, run_dir).path


def _master(config, plan, run_dir: Path):
    from renderer.audio.master import master_track

    return master_track(plan.track.src, run_dir / "audio" / f"{plan.id}.wav",
                        target_lufs=config.audio.normalization,
                        sample_rate=config.audio.sample_rate, trim_start=plan.trim.start,
                        trim_end=plan.trim.end)  # fmt: skip
