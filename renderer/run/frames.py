"""One track's frames, chunk by chunk (ARCHITECTURE §2): latents for the chunk's frames (plus
the post-fx warm-up frames before it) are decoded in a worker thread (ONNX Runtime/torch release
the GIL) feeding a bounded queue; the main thread runs post-processing (grading at the decode
size, then enlargement, grain and chroma effects at the output size: ``renderer/fx/postfx.py``),
hashes each frame and pipes it to FFmpeg."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from renderer.run.chunks import Chunk, frame_hash
from renderer.run.records import PreparedTrack


def threaded(source: Iterator, *, depth: int = 2) -> Iterator:
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
    """Renders the chunks of one prepared track with a decoder (the driver's, or a worker's own:
    see :mod:`renderer.run.executors`)."""

    def __init__(self, config, prepared: PreparedTrack, *, decoder) -> None:
        from renderer.control.controller import LatentController
        from renderer.fx.postfx import PostFX

        self.config, self.prepared, self.decoder = config, prepared, decoder
        plan = prepared.plan
        meta = decoder.meta
        self.k = config.render.oversample
        self.latent_hw = decoder.latent_hw(tuple(config.resolution))
        self.native = decoder.frame_size(tuple(config.resolution))  # (W, H) of decoded frames
        self.controller = LatentController(
            meta=meta,
            frames=prepared.sub_frames,
            analysis=prepared.analysis,
            settings=plan.controller,
            seed=plan.seed,
            latent_hw=self.latent_hw,
            markers=plan.markers,
        )
        self.postfx = PostFX(plan.postfx, size=self.native, seed=plan.seed, track_id=plan.id,
                             output_size=tuple(config.resolution))  # fmt: skip
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
        from renderer.fx.postfx import average_subframes

        for a in range(first, stop, self.batch):
            b = min(stop, a + self.batch)
            # Times and look matter only to resolution-free backends (the CPPN); the GAN ignores them.
            times = np.arange(a * self.k, b * self.k) / (self.config.frame_rate * self.k)
            frames = self.decoder.decode(self._latents(a, b), size=self.native, times=times,
                                         look=self.prepared.plan.cppn)  # fmt: skip
            yield a, average_subframes(frames, factor=self.k)

    def render_chunk(self, chunk: Chunk, segment: Path, *, on_frames: Callable[[int], None],
                     on_frame: Callable[[np.ndarray, int], None] | None = None) -> list[str]:  # fmt: skip
        """Write ``chunk`` to ``segment``; returns the per-frame hashes of the written frames."""
        from renderer.encode.frame_writer import FrameWriter

        cfg = self.config
        first = max(0, chunk.start - self.postfx.warmup_frames)
        self.postfx.reset()
        hashes: list[str] = []
        segment.parent.mkdir(parents=True, exist_ok=True)
        writer = FrameWriter(
            segment,
            fps=cfg.frame_rate,
            size=tuple(cfg.resolution),
            input_size=self.postfx.output_size,
            profile=cfg.encode.profile,
            ffmpeg_path=str(cfg.encode.ffmpeg_path) if cfg.encode.ffmpeg_path else None,
            threads=cfg.encode.threads,
        )
        with writer:
            for a, frames in threaded(self._decoded(first, chunk.stop)):
                indices = np.arange(a, a + len(frames))
                graded = self.postfx.apply(
                    frames,
                    frame_indices=indices,
                    signals=self._signals(a, a + len(frames)),
                    out=frames
                    if self.postfx.output_size == self.native
                    else self.postfx.output_buffer(len(frames)),
                )
                keep = indices >= chunk.start
                if not keep.any():
                    continue
                out = graded if keep.all() else graded[keep]  # a 1080p copy costs page faults
                writer.write(out)
                for frame, index in zip(out, indices[keep], strict=True):
                    hashes.append(frame_hash(frame))
                    if on_frame is not None:
                        on_frame(frame, int(index))
                on_frames(len(out))
        return hashes
