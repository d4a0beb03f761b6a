"""One track's frames, chunk by chunk (ARCHITECTURE §2): latents for the chunk's frames (plus
the post-fx warm-up frames before it) are decoded in a worker thread (ONNX Runtime/torch release
the GIL) feeding a bounded queue; the main thread runs post-processing (grading at the decode
size, then enlargement, grain and chroma effects at the output size: ``renderer/fx/postfx.py``),
hashes each frame and pipes it to FFmpeg. With the torch decoder on CUDA the frames stay on the
GPU from decode to the graded output frame (``renderer/decode/device_pipeline.py``), and H.264
goes to ``h264_nvenc`` where FFmpeg can open it (``renderer/encode/profiles.py``)."""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from renderer.run.chunks import Chunk, frame_hash
from renderer.run.records import PreparedTrack

log = logging.getLogger(__name__)


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
        from renderer.decode.upscaler import upscaler_spec
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
        upscaler = (
            None if decoder.resolution_free else upscaler_spec(meta, compile=config.decoder.compile)
        )
        self.device = None  # the CUDA path: device_pipeline.DeviceFrames
        if decoder.keeps_frames_on_device:
            from renderer.decode.device_pipeline import DeviceFrames

            self.device = DeviceFrames(decoder, postfx_settings=plan.postfx, size=self.native,
                                       output_size=tuple(config.resolution), seed=plan.seed,
                                       track_id=plan.id, oversample=self.k,
                                       upscaler=upscaler)  # fmt: skip
            self.postfx = self.device.postfx
        else:
            self.postfx = PostFX(plan.postfx, size=self.native, seed=plan.seed, track_id=plan.id,
                                 output_size=tuple(config.resolution),
                                 upscaler=upscaler)  # fmt: skip
        self.batch = decoder.batch_size
        self._encoder = None

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
            if self.device is not None:  # the CUDA path: frames stay on the device
                yield a, self.device.decode(self._latents(a, b))
                continue
            # Times and look matter only to resolution-free backends (the CPPN); the GAN ignores them.
            times = np.arange(a * self.k, b * self.k) / (self.config.frame_rate * self.k)
            frames = self.decoder.decode(self._latents(a, b), size=self.native, times=times,
                                         look=self.prepared.plan.cppn)  # fmt: skip
            yield a, average_subframes(frames, factor=self.k)

    def _probe(self, n: int) -> None:
        """``n`` frames from the start through decode and post-fx on the device (batch tuning)."""
        frames = self.device.decode(self._latents(0, n))
        self.device.grade(frames, frame_indices=np.arange(n), signals=self._signals(0, n))

    def _grade(self, frames, indices: np.ndarray):
        signals = self._signals(int(indices[0]), int(indices[0]) + len(frames))
        if self.device is not None:
            return self.device.grade(frames, frame_indices=indices, signals=signals)
        same = self.postfx.output_size == self.native
        out = frames if same else self.postfx.output_buffer(len(frames))
        return self.postfx.apply(frames, frame_indices=indices, signals=signals, out=out)

    def encoder(self):
        """The encode profile and threads (``renderer.encode.profiles.choose_encoder``): on the
        CUDA path ``h264_nvenc`` where FFmpeg has it, else libx264 with more threads."""
        if self._encoder is None:
            from renderer.encode.ffmpeg_bin import find_ffmpeg
            from renderer.encode.profiles import choose_encoder

            enc = self.config.encode
            ffmpeg = find_ffmpeg(str(enc.ffmpeg_path) if enc.ffmpeg_path else None)
            self._encoder = choose_encoder(enc.profile, video_encoder=enc.video_encoder,
                                           on_cuda=self.device is not None, threads=enc.threads,
                                           x264_preset=enc.x264_preset, ffmpeg=ffmpeg)  # fmt: skip
            log.info("encoder: %s", self._encoder.reason)
        return self._encoder

    def render_chunk(self, chunk: Chunk, segment: Path, *, on_frames: Callable[[int], None],
                     on_frame: Callable[[np.ndarray, int], None] | None = None) -> list[str]:  # fmt: skip
        """Write ``chunk`` to ``segment``; returns the per-frame hashes of the written frames."""
        from renderer.decode.device_pipeline import to_host
        from renderer.encode.frame_writer import FrameWriter

        cfg = self.config
        if self.device is not None and cfg.decoder.auto_batch:
            self.batch = self.device.tuned_batch(self._probe).batch
        first = max(0, chunk.start - self.postfx.warmup_frames)
        self.postfx.reset()
        hashes: list[str] = []
        segment.parent.mkdir(parents=True, exist_ok=True)
        writer = FrameWriter(
            segment,
            fps=cfg.frame_rate,
            size=tuple(cfg.resolution),
            input_size=self.postfx.output_size,
            profile=self.encoder().profile,
            ffmpeg_path=str(cfg.encode.ffmpeg_path) if cfg.encode.ffmpeg_path else None,
            threads=self.encoder().threads,
        )
        with writer:
            for a, frames in threaded(self._decoded(first, chunk.stop)):
                indices = np.arange(a, a + len(frames))
                graded = self._grade(frames, indices)
                keep = indices >= chunk.start
                if not keep.any():
                    continue
                out = graded if keep.all() else graded[keep]  # a 1080p copy costs page faults
                if self.device is not None:
                    out = to_host(out)  # the batch's one copy off the device
                writer.write(out)
                for frame, index in zip(out, indices[keep], strict=True):
                    hashes.append(frame_hash(frame))
                    if on_frame is not None:
                        on_frame(frame, int(index))
                on_frames(len(out))
        return hashes
