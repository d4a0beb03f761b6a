"""Render one track: audio → features/analysis → latents → frames → segments → ``<id>.mp4``.

``python renderer/render_track.py --config render.yaml --track opening``

Per chunk (ARCHITECTURE §2): latents for the chunk's frames (plus the post-fx warm-up frames before
it) are decoded in a worker thread (ONNX Runtime/torch release the GIL) feeding a bounded queue;
the main thread runs post-processing at the decode size, hashes each frame and pipes it to FFmpeg,
which upscales to the output size in the encode call (the fastest measured path on CPU, see
``renderer/throughput.py``). Finished chunks are recorded in the run manifest and skipped on
``--resume`` after their segment hash is verified.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import numpy as np

from renderer.chunks import Chunk, RunManifest, combine_hashes, frame_hash, plan_chunks
from renderer.errors import NoiseToSignalError, RenderError
from renderer.model_meta import latent_grid, sha256_file


@dataclass
class TrackResult:
    """Outcome of one track's render (also the row of the summary table)."""

    id: str
    title: str = ""
    ok: bool = False
    output: str | None = None
    webm: str | None = None
    audio: str | None = None
    frames: int = 0
    duration: float = 0.0
    seconds: float = 0.0
    chunks_rendered: int = 0
    chunks_skipped: int = 0
    error: str | None = None
    sync_error_ms: float | None = None
    reactivity: dict = field(default_factory=dict)
    previews: dict = field(default_factory=dict)
    loudness: dict = field(default_factory=dict)
    analysis: dict = field(default_factory=dict)
    chunk_hashes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # problems that did not stop the render

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds > 0 else 0.0


@dataclass
class PreparedTrack:
    """Audio-side inputs of a track, computed once (cached) before any frame is rendered."""

    plan: object
    audio: object  # renderer.audio_master.MasteredAudio
    frames: object  # FrameFeatures at the output frame rate
    sub_frames: object  # FrameFeatures at fps × oversample (the controller's timeline)
    analysis: object
    n_frames: int


def prepare_track(config, plan, *, run_dir: Path, cache_root: Path) -> PreparedTrack:
    """Master the audio (trim + loudness) and analyse it. Raises AudioError for bad audio."""
    from renderer.analysis import analyze_track
    from renderer.audio_features import extract_features, to_video_frames
    from renderer.audio_master import master_track

    audio = master_track(
        plan.track.src,
        run_dir / "audio" / f"{plan.id}.wav",
        target_lufs=config.audio.normalization,
        sample_rate=config.audio.sample_rate,
        trim_start=plan.trim.start,
        trim_end=plan.trim.end,
    )
    features = extract_features(audio.path, cache_dir=cache_root / "features")
    analysis = analyze_track(audio.path, cache_dir=cache_root / "analysis")
    fps = config.frame_rate
    frames = to_video_frames(features, fps=fps)
    k = config.render.oversample
    sub = frames if k == 1 else to_video_frames(features, fps=fps * k)
    return PreparedTrack(plan, audio, frames, sub, analysis, frames.n_frames)


def _threaded(source: Iterator, *, depth: int = 2) -> Iterator:
    """Run ``source`` in a worker thread, yielding its items through a bounded queue."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    done = object()
    stop = threading.Event()

    def work() -> None:
        try:
            for item in source:
                if stop.is_set():
                    return
                q.put(item)
        except BaseException as exc:  # re-raised in the consumer
            q.put(exc)
        finally:
            q.put(done)

    thread = threading.Thread(target=work, name="decode", daemon=True)
    thread.start()
    try:
        while (item := q.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                thread.join(0.05)


class TrackRenderer:
    """Renders the chunks of one prepared track with a shared decoder."""

    def __init__(self, config, prepared: PreparedTrack, *, decoder, run_dir: Path) -> None:
        from renderer.controller import LatentController
        from renderer.postfx import PostFX

        self.config, self.prepared, self.decoder, self.run_dir = config, prepared, decoder, run_dir
        plan = prepared.plan
        meta = decoder.meta
        self.k = config.render.oversample
        self.latent_hw = latent_grid(tuple(config.resolution), scale=meta.scale)
        self.native = (self.latent_hw[1] * meta.scale, self.latent_hw[0] * meta.scale)  # (W, H)
        self.controller = LatentController(
            meta=meta,
            frames=prepared.sub_frames,
            analysis=prepared.analysis,
            settings=plan.controller,
            seed=plan.seed,
            latent_hw=self.latent_hw,
            markers=plan.markers,
        )
        self.postfx = PostFX(plan.postfx, size=self.native, seed=plan.seed, track_id=plan.id)
        self.batch = decoder.batch_size

    def _latents(self, start: int, stop: int) -> np.ndarray:
        """Latents of output frames [start, stop) at ``k`` subframes each: ``[(stop-start)·k, C, h, w]``."""
        n_sub = self.controller.n_frames
        a, b = start * self.k, stop * self.k
        z = self.controller.latents(min(a, n_sub - 1), min(b, n_sub))
        if len(z) < b - a:  # the subframe timeline can be a frame shorter than n·k
            z = np.concatenate([z, np.repeat(z[-1:], b - a - len(z), axis=0)])
        return z

    def _signals(self, start: int, stop: int) -> dict[str, np.ndarray]:
        n_sub = self.controller.n_frames
        idx = np.minimum(np.arange(start, stop) * self.k, n_sub - 1)
        full = self.controller.signals(int(idx.min()), int(idx.max()) + 1)
        return {name: values[idx - idx.min()] for name, values in full.items()}

    def _decoded(self, first: int, stop: int) -> Iterator[tuple[int, np.ndarray]]:
        from renderer.postfx import average_subframes

        for a in range(first, stop, self.batch):
            b = min(stop, a + self.batch)
            frames = self.decoder.decode(self._latents(a, b))
            yield a, average_subframes(frames, factor=self.k)

    def render_chunk(self, chunk: Chunk, segment: Path, *, on_frames: Callable[[int], None],
                     on_frame: Callable[[np.ndarray, int], None] | None = None) -> list[str]:  # fmt: skip
        """Write ``chunk`` to ``segment``; returns the per-frame hashes of the written frames."""
        from renderer.frame_writer import FrameWriter

        cfg = self.config
        first = max(0, chunk.start - self.postfx.warmup_frames)
        self.postfx.reset()
        hashes: list[str] = []
        segment.parent.mkdir(parents=True, exist_ok=True)
        writer = FrameWriter(
            segment,
            fps=cfg.frame_rate,
            size=tuple(cfg.resolution),
            input_size=self.native,
            profile=cfg.encode.profile,
            ffmpeg_path=str(cfg.encode.ffmpeg_path) if cfg.encode.ffmpeg_path else None,
            threads=cfg.encode.threads,
        )
        with writer:
            for a, frames in _threaded(self._decoded(first, chunk.stop)):
                indices = np.arange(a, a + len(frames))
                graded = self.postfx.apply(
                    frames,
                    frame_indices=indices,
                    signals=self._signals(a, a + len(frames)),
                    out=frames,
                )
                keep = indices >= chunk.start
                if not keep.any():
                    continue
                out = graded[keep]
                writer.write(out)
                for frame, index in zip(out, indices[keep], strict=True):
                    hashes.append(frame_hash(frame))
                    if on_frame is not None:
                        on_frame(frame, int(index))
                on_frames(len(out))
        return hashes


def render_track(
    config,
    plan,
    *,
    decoder,
    run_dir: Path,
    manifest: RunManifest,
    cache_root: Path = Path("cache"),
    on_frames: Callable[[int], None] = lambda n: None,
    on_start: Callable[[str, int], None] = lambda track_id, n: None,
) -> TrackResult:
    """Render one track into ``run_dir``; errors are caught and returned in the result, and
    problems with the input that did not stop it (:class:`AudioWarning`) are listed in it."""
    from renderer.audio_features import AudioWarning

    result = TrackResult(id=plan.id, title=plan.track.title)
    start = time.perf_counter()
    try:
        key = _completion_key(plan, decoder)
        if config.run.resume and (done := _reuse_finished(manifest, plan, key)) is not None:
            on_start(plan.id, done.frames)
            on_frames(done.frames)
            done.seconds = time.perf_counter() - start
            return done
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", AudioWarning)
            prepared = prepare_track(config, plan, run_dir=run_dir, cache_root=cache_root)
        result.warnings += [str(w.message) for w in caught if issubclass(w.category, AudioWarning)]
        for w in caught:  # anything else goes on to the usual handlers
            if not issubclass(w.category, AudioWarning):
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)
        _render_prepared(config, prepared, decoder=decoder, run_dir=run_dir, manifest=manifest,
                         result=result, on_frames=on_frames, on_start=on_start)  # fmt: skip
        result.ok = True
        result.seconds = time.perf_counter() - start
        manifest.complete(plan.id, key=key, result=asdict(result), files=_result_files(result))
    except NoiseToSignalError as exc:
        result.error = str(exc)
    except OSError as exc:
        from renderer.files import describe_write_failure

        where = Path(exc.filename) if exc.filename else Path(plan.track.src)
        result.error = describe_write_failure(where, exc)
    except ValueError as exc:
        result.error = f"{plan.track.src}: {type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - start
    return result


def _completion_key(plan, decoder) -> dict:
    """What a finished track was made from beyond the run's config (which names the run folder):
    the source audio's bytes and the model's artefacts."""
    from renderer.audio_features import file_sha256

    model = {kind: a.get("sha256") for kind, a in sorted(decoder.meta.artefacts.items())}
    return {"src_sha256": file_sha256(plan.track.src), "model": model}


def _result_files(result: TrackResult) -> list[Path]:
    """The files a finished track's result points to (outputs and previews)."""
    paths = [result.output, result.webm]
    for value in result.previews.values():
        paths += value if isinstance(value, list) else [value]
    return [Path(p) for p in paths if isinstance(p, str) and Path(p).is_file()]


def _reuse_finished(manifest: RunManifest, plan, key: dict) -> TrackResult | None:
    """The recorded result of a track this run already finished, if its files are intact."""
    row = manifest.completed(plan.id, key=key)
    if row is None:
        return None
    known = {f.name for f in fields(TrackResult)}
    result = TrackResult(**{k: v for k, v in row.items() if k in known})
    result.chunks_skipped += result.chunks_rendered
    result.chunks_rendered = 0
    return result


def remaster(config, plan, run_dir: Path) -> Path:
    """The track's mastered WAV again (deterministic), for an album film whose tracks were
    finished by an earlier invocation of the run (their WAVs are removed after success)."""
    from renderer.audio_master import master_track

    out = run_dir / "audio" / f"{plan.id}.wav"
    master_track(plan.track.src, out, target_lufs=config.audio.normalization,
                 sample_rate=config.audio.sample_rate, trim_start=plan.trim.start,
                 trim_end=plan.trim.end)  # fmt: skip
    return out


def _render_prepared(
    config, prepared, *, decoder, run_dir, manifest, result, on_frames, on_start
) -> None:
    from renderer.frame_writer import concat_and_mux, probe_media
    from renderer.previews import PreviewCollector

    plan, fps = prepared.plan, config.frame_rate
    n = prepared.n_frames
    result.frames, result.duration = n, n / fps
    result.audio = str(prepared.audio.path)
    result.loudness = {"input_lufs": prepared.audio.loudness_in, "gain_db": prepared.audio.gain_db,
                       "peak_db": prepared.audio.peak_db, "target_lufs": config.audio.normalization}  # fmt: skip
    a = prepared.analysis
    result.analysis = {"tempo": a.tempo, "tempo_confidence": a.tempo_confidence, "key": a.key,
                       "key_confidence": a.key_confidence, "beats": len(a.beats),
                       "sections": [(s.start, s.label) for s in a.sections]}  # fmt: skip
    renderer = TrackRenderer(config, prepared, decoder=decoder, run_dir=run_dir)
    chunks = plan_chunks(n, fps=fps, chunk_seconds=config.render.chunk_seconds)
    manifest.track(plan.id, n_frames=n)
    loud = max(a.sections, key=lambda s: s.end - s.start, default=None)
    previews = PreviewCollector.for_track(
        run_dir / "previews", plan.id, fps=fps, n_frames=n,
        sections=[(s.start, s.label) for s in a.sections] or [(0.0, "start")],
        highlight=(loud.start + 2.0) if loud else 0.0,
    )  # fmt: skip
    on_start(plan.id, n)
    debug_dir = run_dir / "frames" / plan.id if config.render.debug_frames else None
    segments = []
    for chunk in chunks:
        segment = run_dir / "segments" / plan.id / f"{chunk.index:04d}.{_segment_ext(config)}"
        segments.append(segment)
        done = manifest.finished(plan.id, chunk) if config.run.resume else None
        if done is not None:
            result.chunks_skipped += 1
            result.chunk_hashes.append(done["chunk_hash"])
            if config.render.previews:  # the previews' frames from the finished segment
                _offer_from_segment(previews, segment, chunk, config)
            on_frames(chunk.frames)
            continue
        t0 = time.perf_counter()

        def on_frame(frame: np.ndarray, index: int) -> None:
            previews.offer(frame, index)
            if debug_dir is not None:
                _write_debug_frame(debug_dir, frame, index)

        hashes = renderer.render_chunk(chunk, segment, on_frames=on_frames, on_frame=on_frame)
        if len(hashes) != chunk.frames:
            raise RenderError(
                f"{plan.id}: chunk {chunk.index} wrote {len(hashes)} of {chunk.frames} frames"
            )
        chunk_hash = combine_hashes(hashes)
        manifest.record(plan.id, chunk, segment=str(segment.relative_to(run_dir)),
                        segment_sha256=sha256_file(segment), frame_hashes=hashes,
                        chunk_hash=chunk_hash, seconds=round(time.perf_counter() - t0, 3))  # fmt: skip
        result.chunk_hashes.append(chunk_hash)
        result.chunks_rendered += 1
    result.previews = (
        previews.write(run_dir / "thumbnails") if config.render.previews and previews.kept else {}
    )
    out = run_dir / f"{plan.id}.{_container(config)}"
    ffmpeg_path = str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None
    from renderer.mux import track_metadata

    concat_and_mux(segments, prepared.audio.path, out, profile=config.encode.profile,
                   ffmpeg_path=ffmpeg_path, duration=n / fps, title=plan.track.title or plan.id,
                   metadata=track_metadata(plan.track))  # fmt: skip
    probe = probe_media(out, ffmpeg_path=ffmpeg_path)
    result.sync_error_ms = round(1000 * abs(probe["video_duration"] - probe["audio_duration"]), 2)
    if probe["frames"] != n:
        raise RenderError(f"{out}: has {probe['frames']} video frames, expected {n}")
    result.output = str(out)
    if config.encode.webm and config.encode.profile != "webm":
        result.webm = str(
            transcode_webm(out, fps=fps, size=tuple(config.resolution), ffmpeg_path=ffmpeg_path)
        )
    result.reactivity = _reactivity(out, prepared, ffmpeg_path=ffmpeg_path)


def _offer_from_segment(previews, segment: Path, chunk: Chunk, config) -> None:
    from renderer.media import read_frames

    wanted = previews.wanted(chunk.start, chunk.stop)
    if not wanted:
        return
    ffmpeg_path = str(config.encode.ffmpeg_path) if config.encode.ffmpeg_path else None
    local = read_frames(segment, [i - chunk.start for i in wanted],
                        size=tuple(config.resolution), ffmpeg_path=ffmpeg_path)  # fmt: skip
    for offset, frame in sorted(local.items()):
        previews.offer(frame, chunk.start + offset)


def _reactivity(video: Path, prepared: PreparedTrack, *, ffmpeg_path: str | None) -> dict:
    from renderer.metrics import measure_reactivity

    return measure_reactivity(
        video, frames=prepared.frames, analysis=prepared.analysis, ffmpeg_path=ffmpeg_path
    )


def transcode_webm(
    mp4: Path, *, fps: float, size: tuple[int, int], ffmpeg_path: str | None
) -> Path:
    """VP9 + Opus copy of a finished track (the ``webm`` profile's settings)."""
    from renderer.encode_profiles import get_profile
    from renderer.ffmpeg_bin import find_ffmpeg
    from renderer.ffmpeg_proc import WHITELIST, partial_path, run_ffmpeg

    prof = get_profile("webm")
    out = mp4.with_suffix(".webm")
    partial = partial_path(out)
    argv = [find_ffmpeg(ffmpeg_path), "-hide_banner", "-nostdin", "-loglevel", "error", "-y",
            *WHITELIST, "-i", str(mp4),
            *prof.video_args(width=size[0], height=size[1], fps=fps, threads=4),
            *prof.audio_args, str(partial)]  # fmt: skip
    run_ffmpeg(argv, what=f"{out}: webm transcode")
    partial.replace(out)
    return out


def _write_debug_frame(folder: Path, frame: np.ndarray, index: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(folder / f"{index:06d}.png")


def _segment_ext(config) -> str:
    from renderer.encode_profiles import get_profile

    return get_profile(config.encode.profile).segment_ext


def _container(config) -> str:
    from renderer.encode_profiles import get_profile

    return get_profile(config.encode.profile).container


def main(argv: list[str] | None = None) -> int:
    """Render one track of the album (same options as render_album, plus ``--track``)."""
    from renderer.config.cli import add_cli_arguments
    from renderer.render_album import run_album

    parser = argparse.ArgumentParser(prog="nts-render-track", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("render.yaml"))
    parser.add_argument("--track", required=True, help="track id from the tracklist")
    add_cli_arguments(parser)
    args = parser.parse_args(argv)
    args.tracks = args.track
    return run_album(args, with_film=False)


if __name__ == "__main__":
    sys.exit(main())
