"""Frames → FFmpeg: video segments through a pipe, then concat + audio mux.

:class:`FrameWriter` pipes ``uint8 [B, H, W, 3]`` RGB frames as rawvideo into an FFmpeg process that
writes one video-only, closed-GOP segment (ARCHITECTURE §2, §7). The file is written as
``<stem>.partial.<ext>`` (the real extension stays last so FFmpeg picks the muxer) and renamed with
``os.replace`` only after FFmpeg exits cleanly; on any error, including ``KeyboardInterrupt``, the
process is killed and reaped and the partial file removed. FFmpeg's stderr is drained by a thread
into a bounded buffer so a chatty encoder can never block the pipe; its tail goes into
:class:`~renderer.errors.FFmpegError`.

:func:`concat_and_mux` (in :mod:`renderer.encode.mux`, re-exported here) joins the segments and muxes
the audio; :func:`probe_media` (:mod:`renderer.encode.media`) reads durations back.
"""

from __future__ import annotations

import logging
import os
import subprocess
from pathlib import Path
from types import TracebackType

import numpy as np

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.ffmpeg_proc import (
    WHITELIST,
    StderrDrain,
    failure_report,
    partial_path,
    reap,
    run_ffmpeg,
    spawn,
)
from renderer.encode.media import probe_media
from renderer.encode.mux import Chapter, concat_and_mux, write_concat_list, write_ffmetadata
from renderer.encode.profiles import EncodeProfile, fps_fraction, get_profile
from renderer.errors import FFmpegError

__all__ = [
    "Chapter",
    "FrameWriter",
    "concat_and_mux",
    "partial_path",
    "probe_media",
    "run_ffmpeg",
    "write_concat_list",
    "write_ffmetadata",
]

log = logging.getLogger(__name__)

DEFAULT_THREADS = 4  # fixed (not os.cpu_count()) so segment bytes repeat across machines


class FrameWriter:
    """Context manager: ``with FrameWriter(path, fps=30, size=(1920, 1080)) as w: w.write(frames)``.

    ``size`` is the output ``(W, H)``. Frames arrive at ``input_size`` (default: ``size``); when the
    two differ FFmpeg's scaler resizes in the encode call (``scale_flags``, e.g. ``"bicubic"``).
    ``threads`` left out: :data:`DEFAULT_THREADS`, except that x264 with a VBV (the ``youtube``
    profile) runs in one thread, the only way its bytes repeat from run to run; a count given is
    used as it is (the GPU box's libx264 fallback, ``encode.threads``), repeatable or not.
    ``segment=True`` writes a bit-exact video-only segment for :func:`concat_and_mux`;
    ``segment=False`` a standalone video-only file (``+faststart`` where the profile asks for it).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fps: float,
        size: tuple[int, int],
        profile: str | EncodeProfile = "youtube",
        ffmpeg_path: str | None = None,
        threads: int | None = None,
        segment: bool = True,
        preset: str | None = None,
        input_size: tuple[int, int] | None = None,
        scale_flags: str = "bicubic",
    ) -> None:
        self.path = Path(path)
        self.fps = float(fps)
        self.size = (int(size[0]), int(size[1]))
        self.input_size = tuple(input_size) if input_size else self.size
        self.profile = get_profile(profile)
        if self.size[0] % 2 or self.size[1] % 2:
            raise FFmpegError(f"output size {self.size} must be even for yuv420p")
        self.frames_written = 0
        self.argv = self._build_argv(
            ffmpeg=find_ffmpeg(ffmpeg_path),
            threads=threads or DEFAULT_THREADS,
            repeatable=threads is None,
            segment=segment,
            preset=preset,
            scale_flags=scale_flags,
        )
        self._proc: subprocess.Popen | None = None
        self._drain: StderrDrain | None = None

    def _build_argv(
        self,
        *,
        ffmpeg: str,
        threads: int,
        repeatable: bool,
        segment: bool,
        preset: str | None,
        scale_flags: str,
    ) -> list[str]:
        in_w, in_h = self.input_size
        out_w, out_h = self.size
        rate = fps_fraction(self.fps)
        # One linear chain: optional resize, then RGB→YUV with the BT.709 matrix in limited range.
        scale = (
            f"scale={out_w}:{out_h}:flags={scale_flags}:" if self.input_size != self.size else ""
        )
        # setparams tags the frames: the encoder takes primaries/transfer from them, not from
        # the -color_* options alone (FFmpeg ≥ 7 otherwise writes "unknown").
        vf = (
            f"{scale or 'scale='}out_color_matrix=bt709:out_range=tv,format=yuv420p,"
            "setparams=color_primaries=bt709:color_trc=bt709:colorspace=bt709:range=tv"
        )
        argv = [
            ffmpeg,
            "-hide_banner", "-nostdin",
            "-loglevel", "warning",              # errors and warnings only; drained by a thread
            "-y",                                # the .partial name is ours to overwrite
            *WHITELIST,
            "-f", "rawvideo", "-pix_fmt", "rgb24",
            "-video_size", f"{in_w}x{in_h}",
            "-framerate", f"{rate.numerator}/{rate.denominator}",
            "-i", "pipe:0",
            "-an",                               # video only; audio is muxed once per track
            "-vf", vf,
            *self.profile.video_args(
                width=out_w, height=out_h, fps=self.fps, threads=threads, preset=preset,
                repeatable=repeatable,
            ),
        ]  # fmt: skip
        if segment:
            # Bit-exact container (no muxer version string or creation time) for repeatable bytes.
            argv += ["-fflags", "+bitexact"]
        elif self.profile.faststart:
            argv += ["-movflags", "+faststart"]
        argv.append(str(partial_path(self.path)))
        return argv

    # -- context manager -------------------------------------------------------------------

    def __enter__(self) -> FrameWriter:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()

    def open(self) -> None:
        """Start FFmpeg (called by ``__enter__``)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        partial_path(self.path).unlink(missing_ok=True)
        log.debug("ffmpeg argv: %s", self.argv)
        self._proc = spawn(self.argv, stdin=True)
        self._drain = StderrDrain(self._proc.stderr)

    def write(self, frames: np.ndarray) -> None:
        """Append ``uint8 [B, H, W, 3]`` (or one ``[H, W, 3]``) frames at ``input_size``."""
        if self._proc is None:
            raise FFmpegError(f"{self.path}: write() outside the writer's context")
        frames = np.asarray(frames)
        if frames.ndim == 3:
            frames = frames[None]
        in_w, in_h = self.input_size
        if frames.dtype != np.uint8 or frames.shape[1:] != (in_h, in_w, 3):
            raise ValueError(
                f"frames must be uint8 [B, {in_h}, {in_w}, 3], got {frames.dtype} {frames.shape}"
            )
        try:
            self._proc.stdin.write(np.ascontiguousarray(frames).data)
        except (BrokenPipeError, OSError) as exc:
            rc = self._proc.wait()
            raise FFmpegError(
                failure_report(f"FFmpeg stopped while writing {self.path}", rc, self._drain.tail())
            ) from exc
        self.frames_written += len(frames)

    def close(self) -> None:
        """Finish the file: wait for FFmpeg, check its exit status, rename ``.partial`` → final."""
        proc = self._proc
        if proc is None:
            return
        self._proc = None
        partial = partial_path(self.path)
        try:
            try:
                proc.stdin.close()
            except OSError:
                pass  # FFmpeg already exited (broken pipe); its exit status says why
            rc = proc.wait()
        except BaseException:  # e.g. Ctrl-C while FFmpeg finishes the file
            reap(proc)
            partial.unlink(missing_ok=True)
            raise
        if rc != 0:
            partial.unlink(missing_ok=True)
            raise FFmpegError(
                failure_report(f"FFmpeg failed writing {self.path}", rc, self._drain.tail())
            )
        os.replace(partial, self.path)

    def abort(self) -> None:
        """Kill and reap FFmpeg and delete the partial file (error path)."""
        proc, self._proc = self._proc, None
        if proc is not None:
            reap(proc)
        partial_path(self.path).unlink(missing_ok=True)

    @property
    def duration(self) -> float:
        """Seconds of video written so far (``frames_written / fps``)."""
        return self.frames_written / self.fps
