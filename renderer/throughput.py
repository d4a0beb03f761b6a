"""Throughput of each render stage alone and end to end, on the same frames, in one run.

``python renderer/throughput.py --model-dir models --resolution 1920x1080 --frames 120``
(also ``python -m renderer.throughput`` and the ``nts-profile`` console script).

Stages alone: decode (latents → native frames), upscale (OpenCV; the learned ×4 upscaler of
``renderer/decode/upscaler.py`` where the model folder has one), postfx (default settings at the
output size), encode (pre-made frames piped to FFmpeg, per ``--encode-profiles``). End to end:

* ``serial`` — decode → upscale → postfx → write, one batch at a time in one thread;
* ``overlapped`` — decode+upscale in one thread, postfx+write in another (torch, ONNX Runtime and
  OpenCV release the GIL; FFmpeg is a third process);
* ``ffmpeg-scale`` — overlapped, postfx at native size, FFmpeg's scaler resizes in the encode call;
* ``learned ×4`` — serial and overlapped again with the renderer's own chain where the model folder
  has a learned upscaler (``renderer/run/frames.py``: post-fx at the decode size, the ×4 in its
  ``resample`` effect), the decoder and upscaler compiled per ``--compile`` as ``decoder.compile``;
* ``passive`` — overlapped again in a child process with ``OMP_WAIT_POLICY=PASSIVE`` (OpenMP
  threads sleep instead of spinning against FFmpeg; must be set before the libraries load).

The table ends with end-to-end / encode-only ratios: 1.0 means the encoder is the bottleneck.
If ``--model-dir`` holds no ``meta.json`` yet, a randomly initialised generator of the default
config is exported to ``cache/profile/random-model`` (same speed, meaningless pictures).
``--backend cppn`` times the CPPN (no model folder): it decodes at the output size, so its
upscale rows are copies and "decode" is the whole picture.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from renderer.config.models import BACKEND_NAMES, PostFXConfig
from renderer.decode.compile import COMPILE_MODES
from renderer.decode.cpu_features import keep_freed_memory
from renderer.decode.decoder import open_decoder, upscale
from renderer.decode.model_meta import sha256_file
from renderer.decode.upscaler import upscaler_spec
from renderer.encode.frame_writer import FrameWriter
from renderer.fx.postfx import PostFX

CACHE = Path("cache/profile")


def random_model_dir(dest: Path) -> Path:
    """Export an untrained default generator (ONNX + safetensors + meta.json) for timing only."""
    if (dest / "meta.json").is_file():
        return dest
    import torch
    from safetensors.torch import save_file

    from renderer.decode.generator import build_generator

    dest.mkdir(parents=True, exist_ok=True)
    model = build_generator({}).eval()
    save_file(model.state_dict(), str(dest / "generator.safetensors"))
    dims = {0: torch.export.Dim("batch"), 2: torch.export.Dim("h"), 3: torch.export.Dim("w")}
    torch.onnx.export(
        model, (torch.zeros(1, 8, 16, 16),), str(dest / "generator.fp32.onnx"),
        dynamic_shapes=(dims,), dynamo=True, external_data=False,
    )  # fmt: skip
    latent = np.random.default_rng(0).standard_normal((8, 16, 16)).round(4).tolist()
    meta = {
        "format": "noise-to-signal/generator-meta", "version": "1", "latent_shape": [8, 16, 16],
        "scale": 16, "output": {"range": [-1, 1], "layout": "NCHW", "channels": "RGB"},
        "generator_config": {}, "note": "untrained, written by renderer/throughput.py for timing",
        "anchors": [{"id": "random-0", "seed": 0, "latent": latent}],
        "artefacts": {
            kind: {"path": name, "sha256": sha256_file(dest / name)}
            for kind, name in (("onnx", "generator.fp32.onnx"), ("safetensors", "generator.safetensors"))
        },
    }  # fmt: skip
    (dest / "meta.json").write_text(json.dumps(meta))
    return dest


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _batches(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _pipeline(stages: list[Callable], items: list) -> None:
    """Run ``stages`` as threads joined by 2-slot queues; the last stage runs in this thread."""
    queues = [queue.Queue(maxsize=2) for _ in stages[:-1]]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        source = items if k == 0 else iter(queues[k - 1].get, None)
        try:
            for item in source:
                queues[k].put(stages[k](item))
        except BaseException as exc:  # surfaced in the caller after join
            errors.append(exc)
        finally:
            queues[k].put(None)

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(len(queues))]
    for thread in threads:
        thread.start()
    for item in iter(queues[-1].get, None) if queues else items:
        stages[-1](item)
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


def _encode_fps(writer: FrameWriter, batches: Callable[[FrameWriter], object], n: int) -> float:
    """Frames per second from FFmpeg start to its exit (the encoder lags the pipe)."""
    start = time.perf_counter()
    with writer:
        batches(writer)
    return n / (time.perf_counter() - start)


def run_profile(
    *,
    model_dir: Path,
    resolution: tuple[int, int],
    frames: int,
    backend: str = "onnx",
    batch_size: int = 8,
    fps: float = 30.0,
    encode_profiles: tuple[str, ...] = ("youtube",),
    out_dir: Path = CACHE,
    threads: int | None = None,
    e2e_only: bool = False,
    compile: str = "off",
) -> dict[str, float]:
    """Measure every stage; returns ``{row name: frames per second}`` (+ ``"_decoder_provider"``)."""
    if backend != "cppn" and not (Path(model_dir) / "meta.json").is_file():
        model_dir = random_model_dir(out_dir / "random-model")
    decoder = open_decoder(
        model_dir, backend=backend, batch_size=batch_size, threads=threads, compile=compile
    )
    h, w = decoder.latent_hw(resolution)
    native_size = decoder.frame_size(resolution)  # the CPPN renders at the output size itself
    rng = np.random.default_rng(0)
    latents = rng.standard_normal((frames, decoder.meta.latent_channels, h, w), dtype=np.float32)
    postfx = PostFX(PostFXConfig(), size=resolution, seed=0, track_id="profile")
    native_fx = PostFX(PostFXConfig(), size=native_size, seed=0, track_id="profile")
    out_dir.mkdir(parents=True, exist_ok=True)
    slices = list(_batches(frames, batch_size))
    result: dict[str, float] = {"_decoder_provider": decoder.provider}  # type: ignore[dict-item]

    def writer(name: str, *, profile: str = encode_profiles[0], **kw) -> FrameWriter:
        path = out_dir / f"{name}.mp4"
        return FrameWriter(path, fps=fps, size=resolution, profile=profile, **kw)

    def indices(s: slice) -> np.ndarray:
        return np.arange(s.start, s.stop)

    # Output batches live in a ring of preallocated buffers: a fresh 1080p batch per call costs
    # page faults comparable to the upscale itself (measured 2–5 vs 1 ms/frame). Four slots cover
    # the producer's batch, two queued batches and the consumer's batch.
    ring = np.empty((4, batch_size, resolution[1], resolution[0], 3), np.uint8)
    turn = itertools.count()

    def decode(s: slice) -> np.ndarray:
        # size and times matter to the CPPN only (a resolution-free backend); the GAN ignores them
        return decoder.decode(latents[s], size=native_size, times=np.arange(s.start, s.stop) / fps)

    def decode_up(s: slice) -> tuple[slice, np.ndarray]:
        buf = ring[next(turn) % len(ring), : s.stop - s.start]
        return s, upscale(decode(s), size=resolution, out=buf)

    def grade_write(out: FrameWriter, fx: PostFX, item: tuple[slice, np.ndarray]) -> None:
        s, batch = item
        in_place = batch if fx.output_size == fx.size else None  # the renderer's chain enlarges
        out.write(fx.apply(batch, frame_indices=indices(s), out=in_place))

    for s in (slices[0], slices[-1]):  # both batch shapes: a compiled decoder builds each once
        decode(s)  # warm-up (allocations, oneDNN kernel selection, the compile)
    spec = None if decoder.resolution_free else upscaler_spec(decoder.meta, compile=compile)
    if not e2e_only:
        native: list[np.ndarray] = []
        result["decode"] = frames / _timed(lambda: native.extend(decode(s) for s in slices))
        for method in ("cubic", "linear"):
            upscale(native[0], size=resolution, method=method, out=ring[0, : len(native[0])])
            result[f"upscale (cv2 {method})"] = frames / _timed(
                lambda m=method: [
                    upscale(b, size=resolution, method=m, out=ring[0, : len(b)]) for b in native
                ]
            )
        if spec is not None:  # the renderer's default enlargement where the model has one
            learned = spec.runner().frame
            learned(native[0][0])
            result["upscale (learned ×4)"] = frames / _timed(
                lambda: [learned(frame) for b in native for frame in b]
            )
        big = upscale(native[0], size=resolution)
        result["postfx"] = frames / _timed(
            lambda: [
                postfx.apply(big[: s.stop - s.start], frame_indices=indices(s), out=ring[1, : s.stop - s.start])
                for s in slices
            ]
        )  # fmt: skip
        graded = postfx.apply(big, frame_indices=indices(slices[0]))
        for name in encode_profiles:
            result[f"encode {name}"] = _encode_fps(
                writer(f"encode-{name}", profile=name),
                lambda out: [out.write(graded[: s.stop - s.start]) for s in slices],
                frames,
            )
        # Same content as the ffmpeg-scale pipeline below: graded (grain!) at native size. Grain
        # is most of what the encoder spends its bits and time on, so ungraded frames would flatter.
        small = [
            native_fx.apply(b, frame_indices=indices(s))
            for b, s in zip(native, slices, strict=True)
        ]
        result["encode + ffmpeg scale"] = _encode_fps(
            writer("encode-ffscale", input_size=native_size),
            lambda out: [out.write(batch) for batch in small],
            frames,
        )
    result["e2e serial"] = _encode_fps(
        writer("serial"),
        lambda out: [grade_write(out, postfx, decode_up(s)) for s in slices],
        frames,
    )
    postfx.reset()
    result["e2e overlapped"] = _encode_fps(
        writer("overlapped"),
        lambda out: _pipeline([decode_up, lambda it: grade_write(out, postfx, it)], slices),
        frames,
    )
    result["e2e overlapped, ffmpeg scale"] = _encode_fps(
        writer("ffscale", input_size=native_size),
        lambda out: _pipeline(
            [lambda s: (s, decode(s)), lambda it: grade_write(out, native_fx, it)],
            slices,
        ),
        frames,
    )
    if spec is not None:  # the renderer's chain (renderer/run/frames.py): post-fx at the decode
        # size, enlarged by the learned ×4 in its resample effect
        chain = PostFX(PostFXConfig(), size=native_size, output_size=resolution, seed=0,
                       track_id="profile", upscaler=spec)  # fmt: skip
        chain.apply(decode(slices[0]), frame_indices=indices(slices[0]))  # compiles where asked
        chain.reset()
        result["e2e serial, learned ×4"] = _encode_fps(
            writer("learned-serial"),
            lambda out: [grade_write(out, chain, (s, decode(s))) for s in slices],
            frames,
        )
        chain.reset()
        result["e2e overlapped, learned ×4"] = _encode_fps(
            writer("learned-overlapped"),
            lambda out: _pipeline(
                [lambda s: (s, decode(s)), lambda it: grade_write(out, chain, it)], slices
            ),
            frames,
        )
    for path in out_dir.glob("*.mp4"):
        path.unlink()  # timing outputs only
    return result


def _passive_child(args: argparse.Namespace) -> dict[str, float]:
    """The end-to-end rows again in a child process with ``OMP_WAIT_POLICY=PASSIVE``."""
    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    argv = [
        sys.executable, "-m", "renderer.throughput", "--e2e-only", "--json",
        "--model-dir", str(args.model_dir), "--resolution", args.resolution,
        "--frames", str(args.frames), "--backend", args.backend, "--fps", str(args.fps),
        "--batch-size", str(args.batch_size), "--out-dir", str(args.out_dir),
        "--encode-profiles", args.encode_profiles.split(",")[0], "--compile", args.compile,
    ]  # fmt: skip
    if args.threads:
        argv += ["--threads", str(args.threads)]
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        print(f"OMP_WAIT_POLICY=PASSIVE run failed ({tail[0]}); rows skipped", file=sys.stderr)
        return {}
    child = json.loads(proc.stdout.strip().splitlines()[-1])
    return {f"{k}, OMP passive": v for k, v in child.items() if k.startswith("e2e")}


def print_table(result: dict[str, float], *, resolution: tuple[int, int], backend: str) -> None:
    from rich.table import Table

    from renderer.console import make_console

    provider = result.pop("_decoder_provider", "?")
    table = Table(
        title=f"noise-to-signal stage throughput, {resolution[0]}×{resolution[1]}, {backend} ({provider})"
    )
    for col in ("stage", "fps", "ms/frame", "vs encode-only"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    encode = next(
        (v for k, v in result.items() if k.startswith("encode ") and "scale" not in k), None
    )
    for name, value in result.items():
        ratio = f"{value / encode:.2f}" if encode and name.startswith("e2e") else ""
        table.add_row(name, f"{value:.1f}", f"{1000 / value:.1f}", ratio)
    fastest = max((k for k in result if k.startswith("e2e")), key=result.__getitem__)
    console = make_console(stderr=False)
    console.print(table)
    console.print(f"fastest end to end: [bold]{fastest}[/bold] at {result[fastest]:.1f} frames/s")


def main(argv: list[str] | None = None) -> int:
    from renderer.console import add_manners

    parser = argparse.ArgumentParser(prog="nts-profile", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=Path("models"),
                        help="model folder (default: models)")  # fmt: skip
    parser.add_argument("--resolution", default="1920x1080", help="WxH of the output")
    parser.add_argument("--frames", type=int, default=120, help="frames per stage (default: 120)")
    parser.add_argument("--backend", choices=BACKEND_NAMES, default="onnx",
                        help="decoder backend (default: onnx)")  # fmt: skip
    parser.add_argument("--batch-size", type=int, default=8, help="decoder batch (default: 8)")
    parser.add_argument("--threads", type=int, default=None, help="decoder intra-op threads")
    parser.add_argument("--fps", type=float, default=30.0, help="frame rate of the encode")
    parser.add_argument("--compile", choices=COMPILE_MODES, default="auto",
                        help="torch.compile the decoder and upscaler, as decoder.compile "
                             "(default: auto)")  # fmt: skip
    parser.add_argument(
        "--encode-profiles", default="youtube", help="comma-separated; first one is used end to end"
    )
    parser.add_argument("-o", "--output", dest="out_dir", type=Path, default=CACHE,
                        help=f"folder for the encoded test files (default: {CACHE})")  # fmt: skip
    parser.add_argument("--out-dir", dest="out_dir", type=Path, help=argparse.SUPPRESS)  # old name
    parser.add_argument(
        "--no-passive", action="store_true", help="skip the OMP_WAIT_POLICY=PASSIVE run"
    )
    parser.add_argument("--e2e-only", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="print the results as one JSON line")
    add_manners(parser, quiet=False)
    args = parser.parse_args(argv)
    keep_freed_memory()  # the heap as the render CLIs keep it (their OpenMP policy is a row here)
    try:
        width, height = (int(v) for v in args.resolution.lower().split("x"))
    except ValueError:
        parser.error(f"--resolution {args.resolution!r}: expected WxH, e.g. 1920x1080")
    result = run_profile(
        model_dir=args.model_dir, resolution=(width, height), frames=args.frames,
        backend=args.backend, batch_size=args.batch_size, fps=args.fps, out_dir=args.out_dir,
        encode_profiles=tuple(args.encode_profiles.split(",")), threads=args.threads,
        e2e_only=args.e2e_only, compile=args.compile,
    )  # fmt: skip
    if not args.e2e_only and not args.no_passive:
        result.update(_passive_child(args))
    if args.json:
        print(json.dumps(result))
    else:
        print_table(result, resolution=(width, height), backend=args.backend)
    return 0


if __name__ == "__main__":
    sys.exit(main())
