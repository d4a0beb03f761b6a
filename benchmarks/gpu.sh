#!/usr/bin/env bash
# The prepared GPU check of issue 13 (item 5), under 5 minutes on one CUDA GPU:
#   1. which GPU, and whether the FFmpeg in use lists NVENC (the imageio-ffmpeg wheel's build does:
#      h264_nvenc, hevc_nvenc, av1_nvenc; it still needs the NVIDIA driver's libcuda at run time);
#   2. the gpu-marked tests (the device post-fx chain against the CPU one, batch tuning on the
#      real device's memory);
#   3. decode-only and end-to-end fps at 1080p60 and 2160p30 (benchmarks/gpu_throughput.py),
#      with the bar: 1080p60 end to end ≥ 3× realtime.
# Needs a Python with this project installed (`pip install -e .`) and a CUDA build of torch; a
# .venv in the repository is used when there is one. Arguments go to gpu_throughput.py
# (e.g. --seconds 5, --json gpu.json). Without a GPU: `benchmarks/gpu.sh --tiny` checks the
# script on the CPU device at 160×90 and 320×180 (step 2 is then skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
if [ -f .venv/bin/activate ]; then . .venv/bin/activate; fi
PY=${PYTHON:-python3}
export MPLBACKEND=Agg OMP_WAIT_POLICY=PASSIVE NUMBA_CACHE_DIR="$PWD/cache/numba"

echo "== device =="
"$PY" - <<'PY'
import torch
print("torch", torch.__version__, "CUDA", torch.version.cuda, "available:", torch.cuda.is_available())
if torch.cuda.is_available():
    print(torch.cuda.get_device_name(0), f"{torch.cuda.mem_get_info()[1] / 2**30:.0f} GiB")
PY
FFMPEG=$("$PY" -c "from renderer.encode.ffmpeg_bin import find_ffmpeg; print(find_ffmpeg())")
echo "ffmpeg: $FFMPEG"
"$FFMPEG" -hide_banner -encoders | grep -i nvenc || echo "(this FFmpeg lists no NVENC encoder)"
"$PY" -c "from renderer.encode.ffmpeg_bin import encoder_opens as o; import sys; \
print('h264_nvenc opens here:', o(sys.argv[1], 'h264_nvenc'))" "$FFMPEG"

if [[ " $* " != *" --tiny "* ]]; then
  echo "== gpu tests =="
  timeout 90 "$PY" -m pytest -p no:cacheprovider -o addopts="" -q -m gpu tests/test_gpu_path.py
fi

echo "== throughput =="
timeout 180 "$PY" benchmarks/gpu_throughput.py "$@"
