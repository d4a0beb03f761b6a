"""AAC encoder search methods at the YouTube profile's bitrate: encode time and how close the decode
comes to its source.

FFmpeg's native AAC encoder has two coders: ``twoloop`` (its default) and ``fast``. At 384 kb/s on
two cores twoloop took 0.2 s per second of audio, a minute for a five-minute track, once for the
track and again for the album film. This script encodes the same excerpts with both coders and
prints, per file: the encode time, the ratio, and the signal-to-error ratio of the decoded audio
against the source, over the whole band and above 8 kHz (where the coders differ most). Inputs:
``../shared/audio/*`` (real recordings) and the bundled album's tracks, 30 s from 20 s in.

Usage: ``python benchmarks/audio_encode.py [FILE ...] [--seconds 30] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy import signal

from renderer.encode.ffmpeg_bin import find_ffmpeg
from renderer.encode.ffmpeg_proc import ffmpeg_to
from renderer.encode.profiles import get_profile

ROOT = Path(__file__).resolve().parents[1]
CODERS = ("twoloop", "fast")


def _ffmpeg(out: Path, *args: str) -> None:
    ffmpeg_to(find_ffmpeg(), out, list(args), what=out.name)


def _bitrate() -> str:
    args = get_profile("youtube").audio_args
    return args[args.index("-b:a") + 1]


def snr_db(ref: np.ndarray, test: np.ndarray, highpass_hz: float | None = None) -> float:
    """Signal-to-error ratio of ``test`` against ``ref`` (both (n, channels) at 48 kHz), 0.1 s
    trimmed at each end; above ``highpass_hz`` when given (6th-order Butterworth)."""
    n = min(len(ref), len(test))
    ref, err = ref[:n], test[:n] - ref[:n]
    if highpass_hz:
        sos = signal.butter(6, highpass_hz, "highpass", fs=48000, output="sos")
        ref, err = signal.sosfilt(sos, ref, axis=0), signal.sosfilt(sos, err, axis=0)
    ref, err = ref[4800:-4800], err[4800:-4800]
    return float(10 * np.log10(np.sum(ref**2) / max(np.sum(err**2), 1e-20)))


def measure(src: Path, work: Path, seconds: float, repeat: int) -> dict[str, tuple[float, ...]]:
    wav = work / "source.wav"
    _ffmpeg(wav, "-ss", "20", "-t", str(seconds), "-i", str(src), "-ar", "48000", "-ac", "2",
            "-c:a", "pcm_f32le")  # fmt: skip
    ref, _ = sf.read(str(wav))
    bitrate = _bitrate()
    out = {}
    for coder in CODERS:
        m4a, back = work / f"{coder}.m4a", work / f"{coder}.wav"
        times = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            _ffmpeg(m4a, "-i", str(wav), "-c:a", "aac", "-aac_coder", coder, "-b:a", bitrate)
            times.append(time.perf_counter() - t0)
        _ffmpeg(back, "-i", str(m4a), "-c:a", "pcm_f32le")
        decoded, _ = sf.read(str(back))
        out[coder] = (min(times), snr_db(ref, decoded), snr_db(ref, decoded, 8000.0))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="*", type=Path)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeat", type=int, default=3, help="encodes per coder; the fastest counts")
    args = ap.parse_args(argv)
    files = args.files or sorted((ROOT.parent / "shared" / "audio").glob("*.ogg")) + sorted(
        (ROOT / "album").glob("*.wav")
    )
    if not files:
        print("no input files", file=sys.stderr)
        return 1
    print(f"AAC at {_bitrate()}b/s, {args.seconds:g} s excerpts, best of {args.repeat}\n")
    print("| file | twoloop s | fast s | speed-up | SNR twoloop / fast dB | >8 kHz dB |")
    print("|---|---|---|---|---|---|")
    for src in files:
        with tempfile.TemporaryDirectory() as tmp:
            r = measure(src, Path(tmp), args.seconds, args.repeat)
        (ts, ss, hs), (tf, sf_, hf) = r["twoloop"], r["fast"]
        print(f"| {src.name} | {ts:.2f} | {tf:.2f} | {ts / tf:.2f}× | {ss:.1f} / {sf_:.1f} "
              f"| {hs:.1f} / {hf:.1f} |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
