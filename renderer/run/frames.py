"""One track's frames, chunk by chunk (ARCHITECTURE §2): latents for the chunk's frames (plus
the post-fx warm-up frames before it) are decoded in a worker thread (ONNX Runtime/torch release
the GIL) feeding a bounded queue; the main thread runs post-processing at the decode size, hashes
each frame and pipes it to FFmpeg, which upscales to the output size in the encode call (the
fastest measured path on CPU, see ``renderer/throughput.py``)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from renderer.decode.model_meta import latent_grid
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
    """Renders the chunks of one prepared track with a shared decoder."""

    def __init__(self, config, prepared: PreparedTrack, *, decoder, run_dir: Path) -> None:
        from renderer.control.controller import LatentController
        from renderer.fx.postfx import PostFX

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
        from renderer.fx.postfx import average_subframes

        for a in range(first, stop, self.batch):
            b = min(stop, a + self.batch)
            frames = self.decoder.decode(self._latents(a, b))
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
            input_size=self.native,
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


def write_debug_frame(folder: Path, frame: np.ndarray, index: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(frame).save(folder / f"{index:06d}.png")
