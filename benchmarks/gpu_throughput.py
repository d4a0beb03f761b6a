"""Decode-only and end-to-end fps of the CUDA path (issue 13) at 1080p60 and 2160p30.

``python benchmarks/gpu_throughput.py [--seconds 10] [--model-dir models] [--json FILE]``
(``benchmarks/gpu.sh`` runs it on a GPU); ``--tiny`` runs the same code on the CPU device at
160×90 and 320×180 for one second each, to check the script itself where there is no GPU.

Per case, with the real generator (``models/``, torch backend, bf16 on CUDA) and seeded random
latents at the case's latent grid:

- **decode**: latents → uint8 frames on the device (``Decoder.decode_tensor``), synchronised;
- **end to end**: what ``TrackRenderer`` does per batch on the CUDA path — decode in a worker
  thread, post-fx on the device (the default preset's chain: tone, Oklab colour, vignette,
  enlargement with the chromatic fringe, grain), one copy of the final frames to the host, a hash per frame, and
  FFmpeg encoding the YouTube profile with the encoder ``choose_encoder`` picks (``h264_nvenc``
  where FFmpeg can open it, else libx264 with more threads). The latent controller and the audio
  are left out (they are per-track CPU work that does not scale with the resolution).

The batch is autotuned from free device memory on CUDA (``device_pipeline.tune_batch``) and 4
on the CPU. One untimed batch first warms cuDNN up. Prints a Markdown table and the bar:
1080p60 end to end ≥ 3× realtime (180 fps).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # `python benchmarks/gpu_throughput.py`
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
CASES = {"1080p60": ((1920, 1080), 60.0), "2160p30": ((3840, 2160), 30.0)}
TINY = {"90p60": ((160, 90), 60.0), "180p30": ((320, 180), 30.0)}
BAR_REALTIME = 3.0  # issue 13: 1080p60 end to end at ≥ 3× realtime on a GPU


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_case(decoder, *, size: tuple[int, int], fps: float, seconds: float, out_dir: Path
             ) -> dict:  # fmt: skip
    """Decode-only and end-to-end fps for one resolution and frame rate."""
    from renderer.config.models import PostFXConfig
    from renderer.decode.device_pipeline import to_host, tune_batch
    from renderer.encode.ffmpeg_bin import find_ffmpeg
    from renderer.encode.frame_writer import FrameWriter
    from renderer.encode.profiles import choose_encoder
    from renderer.fx.device_fx import DevicePostFX
    from renderer.run.chunks import frame_hash
    from renderer.run.frames import threaded

    device = decoder.backend.device
    n = max(8, int(round(seconds * fps)))
    h, w = decoder.latent_hw(size)
    native = decoder.frame_size(size)
    rng = np.random.default_rng(13)
    latents = rng.standard_normal((n, decoder.meta.latent_channels, h, w)).astype(np.float32)
    preset = yaml.safe_load((ROOT / "renderer/presets/default.yaml").read_text())
    fx = DevicePostFX(PostFXConfig(**preset.get("postfx", {})), size=native, seed=13, track_id="bench", device=device,
                      output_size=size)  # fmt: skip

    def grade(a: int, frames):
        return fx.apply(frames, frame_indices=np.arange(a, a + len(frames)))

    if device.type == "cuda":
        choice = tune_batch(device, lambda k: grade(0, decoder.decode_tensor(latents[:k])))
        batch = choice.batch
    else:
        batch = 4
    decoder.batch_size = batch
    fx.reset()
    grade(0, decoder.decode_tensor(latents[:batch]))  # warm-up (cuDNN algorithms, tables)
    _sync(device)

    start = time.perf_counter()
    for a in range(0, n, batch):
        decoder.decode_tensor(latents[a : a + batch])
    _sync(device)
    decode_fps = n / (time.perf_counter() - start)

    encoder = choose_encoder("youtube", on_cuda=device.type == "cuda", ffmpeg=find_ffmpeg())
    fx.reset()

    def decoded():
        for a in range(0, n, batch):
            yield a, decoder.decode_tensor(latents[a : a + batch])

    hashes = []
    start = time.perf_counter()
    with FrameWriter(out_dir / f"{size[1]}p.mp4", fps=fps, size=size, profile=encoder.profile,
                     threads=encoder.threads) as writer:  # fmt: skip
        for a, frames in threaded(decoded()):
            out = to_host(grade(a, frames))
            writer.write(out)
            hashes.extend(frame_hash(f) for f in out)
    e2e_fps = n / (time.perf_counter() - start)
    return {"size": list(size), "fps": fps, "frames": n, "batch": batch,
            "decode_size": list(native), "encoder": encoder.profile.video_codec,
            "encoder_threads": encoder.threads, "encoder_reason": encoder.reason,
            "decode_fps": round(decode_fps, 1), "end_to_end_fps": round(e2e_fps, 1),
            "realtime": round(e2e_fps / fps, 2), "first_hash": hashes[0]}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="video seconds per case")
    parser.add_argument("--model-dir", type=Path, default=ROOT / "models")
    parser.add_argument("--tiny", action="store_true",
                        help="CPU device, 160×90 and 320×180, 1 s: checks the script without a GPU")  # fmt: skip
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    import torch

    from renderer.decode.decoder import open_decoder

    if not args.tiny and not torch.cuda.is_available():
        print("error: no CUDA device (torch.cuda.is_available() is False); use --tiny on a CPU")
        return 2
    provider, cases = ("cpu", TINY) if args.tiny else ("cuda", CASES)
    seconds = 1.0 if args.tiny else args.seconds
    decoder = open_decoder(args.model_dir, backend="torch", provider=provider)
    device = decoder.backend.device
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "CPU"
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case, (size, fps) in cases.items():
            results[case] = run_case(decoder, size=size, fps=fps, seconds=seconds,
                                     out_dir=Path(tmp))  # fmt: skip
    print(f"\n{name}, decoder {decoder.provider}, torch {torch.__version__}\n")
    print("| case | frames | batch | decode fps | end-to-end fps | × realtime | encoder |")
    print("|---|---|---|---|---|---|---|")
    for case, r in results.items():
        print(f"| {case} | {r['frames']} | {r['batch']} | {r['decode_fps']} | "
              f"{r['end_to_end_fps']} | {r['realtime']} | {r['encoder']} |")  # fmt: skip
    print(f"\nencoder: {next(iter(results.values()))['encoder_reason']}")
    if not args.tiny:
        r = results["1080p60"]["realtime"]
        verdict = "PASS" if r >= BAR_REALTIME else "FAIL"
        print(f"bar: 1080p60 end to end ≥ {BAR_REALTIME:g}× realtime: {r}× {verdict}")
    if args.json:
        args.json.write_text(json.dumps({"device": name, "provider": decoder.provider,
                                         "cases": results}, indent=1))  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
