"""Encode profiles (ARCHITECTURE §7): how frames and audio become a file, by name.

A profile builds argv *fragments*; :mod:`renderer.encode.frame_writer` assembles whole command lines.
Argv lists are written out by hand (not with ffmpeg-python's graph compiler) because the order of
input options (``-protocol_whitelist`` must precede each ``-i``), the exact bytes of the argv (for
repeatable segments and tests) and one comment per flag matter more here than graph building; the
only filter graphs are one linear ``scale`` chain and one linear audio chain.

Profiles:

* ``youtube`` (default) — YouTube's recommended upload settings: H.264 High, yuv420p, closed GOP of
  exactly half the frame rate (scene-cut keyframes off: a key frame every N frames, no more),
  2 B-frames, BT.709 tags, ABR at the recommended bitrate for the resolution and
  frame rate, ``+faststart``; x264 ``superfast`` (``encode.x264_preset`` changes it); AAC-LC 48 kHz
  stereo 384 kb/s.
* ``webm`` — VP9 (constrained quality) + Opus.
* ``master`` — archive quality: x264 CRF 14 ``slow``; FLAC audio in Matroska.
* ``draft`` — previews: x264 ``ultrafast`` CRF 28; AAC 128 kb/s.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from fractions import Fraction

from renderer.encode.ffmpeg_bin import encoder_opens, ffmpeg_encoders
from renderer.errors import ConfigError, FFmpegError

NVENC = "h264_nvenc"  # NVIDIA's hardware H.264 encoder (renderer/encode/ffmpeg_bin.py checks it)

# YouTube's recommended SDR upload bitrates in Mb/s: (min height, standard fps, high fps (48–60)).
# The 4K row takes the top of YouTube's ranges (35–45 / 53–68) since our frames are grain-heavy.
YOUTUBE_BITRATES_MBPS: tuple[tuple[int, float, float], ...] = (
    (2160, 45.0, 68.0),
    (1440, 16.0, 24.0),
    (1080, 8.0, 12.0),
    (720, 5.0, 7.5),
    (480, 2.5, 4.0),
    (0, 1.0, 1.5),
)

# BT.709 everywhere: swscale's RGB→YUV default is BT.601, which shifts hues once a player decodes
# with the BT.709 matrix that HD content is assumed to use. The tags tell players what we did.
COLOR_TAGS = [
    "-color_primaries", "bt709",
    "-color_trc", "bt709",
    "-colorspace", "bt709",
    "-color_range", "tv",
]  # fmt: skip


def youtube_bitrate(*, width: int, height: int, fps: float) -> float:
    """Recommended video bitrate in Mb/s for a frame size and rate (YouTube's upload table)."""
    short_side = min(width, height)
    for min_height, standard, high in YOUTUBE_BITRATES_MBPS:
        if short_side >= min_height:
            return high if fps > 31 else standard
    raise AssertionError("unreachable: the last row has min height 0")  # pragma: no cover


def gop_size(fps: float) -> int:
    """Closed-GOP length: half the frame rate (YouTube's recommendation), at least 1."""
    return max(1, round(fps / 2))


def fps_fraction(fps: float) -> Fraction:
    """``fps`` as an exact rational (29.97 → 30000/1001) so timestamps do not drift."""
    ntsc = round(fps * 1.001)
    if abs(fps - ntsc * 1000 / 1001) < 5e-3 and abs(fps - round(fps)) > 5e-3:
        return Fraction(ntsc * 1000, 1001)  # 23.976, 29.97, 59.94 → n·1000/1001
    frac = Fraction(fps).limit_denominator(1001)
    if frac <= 0:
        raise ConfigError(f"fps must be positive, got {fps}")
    return frac


@dataclass(frozen=True)
class EncodeProfile:
    """One named way to encode. ``container`` is the final file's extension."""

    name: str
    container: str
    segment_ext: str
    video_codec: str
    audio_args: tuple[str, ...]
    preset: str | None = None
    crf: float | None = None
    abr: bool = False  # bitrate from YOUTUBE_BITRATES_MBPS (ABR with maxrate/bufsize)
    faststart: bool = False
    # Key frames exactly every gop_size(fps) frames: the encoder's scene-cut detection, which
    # inserts extra key frames at hard cuts (x264 averaged 10.7-frame GOPs for a promised 15),
    # is switched off.
    fixed_gop: bool = False
    extra_video: tuple[str, ...] = field(default=())

    def video_args(
        self,
        *,
        width: int,
        height: int,
        fps: float,
        threads: int,
        preset: str | None = None,
        bitexact: bool = True,
        repeatable: bool = True,
    ) -> list[str]:
        """Encoder options for one video stream (after the input, before the output path).

        ``bitexact`` drops the encoder's version string from the bitstream so equal frames give
        equal bytes across builds that share the encoder. ``repeatable`` keeps the bytes equal
        from run to run where the encoder needs fewer threads for it: x264 with a VBV (``abr``
        profiles) then runs in one thread.
        """
        gop = gop_size(fps)
        if self.video_codec == "libx264" and self.abr and repeatable:
            # x264's VBV rate control reads how far the other threads have got, so with more
            # than one thread, frame or slice, identical frames can encode to different files (at
            # 1080p: 2 distinct files from 5 runs with 2 slice threads, 5 from 5 with a lookahead
            # thread; one from 5 with one thread, and from 5 with CRF and slice threads). On a
            # CPU render one thread also costs less CPU: the decoder keeps every core busy, and
            # x264 superfast in one thread encodes 1080p faster than the frames arrive.
            threads = 1
        # One -flags option (a later -flags would replace, not extend, this one).
        flags = "+cgop+bitexact" if bitexact else "+cgop"
        args = ["-c:v", self.video_codec, "-threads", str(threads)]
        if self.video_codec == "libx264":
            args += [
                "-profile:v", "high",
                "-preset", preset or self.preset or "veryfast",
                "-bf", "2",               # 2 B-frames (YouTube)
                "-g", str(gop),           # GOP = half the frame rate
                "-flags", flags,          # closed GOPs: segments concatenate with -c copy
            ]  # fmt: skip
            if self.fixed_gop:
                args += [
                    "-sc_threshold", "0",     # no scene-cut key frames …
                    "-keyint_min", str(gop),  # … and none closer than one GOP
                ]  # fmt: skip
        elif self.video_codec == NVENC:
            args += [
                "-preset", preset if preset and preset.startswith("p") else "p5",  # p1 fast … p7
                "-tune", "hq",
                "-profile:v", "high",
                "-bf", "2",
                "-g", str(gop),           # NVENC's IDR period follows the GOP: closed GOPs
                "-rc", "vbr",
                "-flags", flags,
            ]  # fmt: skip
        elif self.video_codec == "libvpx-vp9":
            args += [
                "-deadline", preset or self.preset or "good",
                "-cpu-used", "5",         # speed/quality trade-off that stays near real time
                "-row-mt", "1",           # row multithreading; deterministic for a fixed -threads
                "-g", str(gop),
                "-auto-alt-ref", "0",     # no hidden alt-ref frames, so every segment closes
            ]  # fmt: skip
            if bitexact:
                args += ["-flags", "+bitexact"]
        if self.abr:
            mbps = youtube_bitrate(width=width, height=height, fps=fps)
            kbps = round(mbps * 1000)
            args += [
                "-b:v", f"{kbps}k",
                "-maxrate", f"{round(kbps * 1.5)}k",   # room for busy passages …
                "-bufsize", f"{kbps * 2}k",            # … over a two-second VBV window
            ]  # fmt: skip
            if self.video_codec == "libx264" and threads > 1:
                # x264's VBV with *frame* threads depends on thread timing (measured: 3 different
                # files from 3 identical runs); slice threads vary less (24.7 vs 27.4 fps at 1080p
                # veryfast on 2 cores, Zen 4) but not never: 2 different files from 5 runs at
                # 1080p (DEVLOG 2026-12-08). Only one thread repeats (``repeatable``).
                args += ["-x264-params", "sliced-threads=1"]
        elif self.crf is not None and self.video_codec == NVENC:
            args += ["-cq", f"{self.crf:g}", "-b:v", "0"]  # constant quality, CRF's scale
        elif self.crf is not None:
            args += ["-crf", f"{self.crf:g}"]
            if self.video_codec == "libvpx-vp9":
                args += ["-b:v", "0"]  # pure constant quality for VP9
        args += ["-pix_fmt", "yuv420p", *COLOR_TAGS, *self.extra_video]
        return args


PROFILES: dict[str, EncodeProfile] = {
    "youtube": EncodeProfile(
        name="youtube",
        container="mp4",
        segment_ext="mp4",
        video_codec="libx264",
        # superfast: 49-51 against 80-91 CPU-ms per 1080p frame for veryfast on the 2-core Xeon,
        # at SSIM 0.990 against 0.992 and PSNR 44.7 against 45.4 dB at the same bitrate
        # (benchmarks/video_encode.py, a graded 1080p track with grain); no difference seen in
        # 100 % crops. The encoder was a third of the album's CPU time. --quality full: veryfast.
        preset="superfast",
        abr=True,
        faststart=True,
        fixed_gop=True,
        # the fast coder: 1.7-2.0x faster than the default twoloop at 384k and closer to the
        # source (46-52 dB -> 58-64 dB SNR; benchmarks/audio_encode.py)
        audio_args=(
            "-c:a",
            "aac",
            "-aac_coder",
            "fast",
            "-profile:a",
            "aac_low",
            "-b:a",
            "384k",
            "-ar",
            "48000",
            "-ac",
            "2",
        ),
    ),
    "webm": EncodeProfile(
        name="webm",
        container="webm",
        segment_ext="webm",
        video_codec="libvpx-vp9",
        preset="good",
        crf=31,
        audio_args=("-c:a", "libopus", "-b:a", "192k", "-ar", "48000", "-ac", "2"),
    ),
    "master": EncodeProfile(
        name="master",
        container="mkv",
        segment_ext="mp4",
        video_codec="libx264",
        preset="slow",
        crf=14,
        audio_args=("-c:a", "flac", "-ar", "48000", "-ac", "2"),
    ),
    "draft": EncodeProfile(
        name="draft",
        container="mp4",
        segment_ext="mp4",
        video_codec="libx264",
        preset="ultrafast",
        crf=28,
        faststart=True,
        audio_args=("-c:a", "aac", "-b:a", "128k", "-ar", "48000", "-ac", "2"),
    ),
}


def get_profile(profile: str | EncodeProfile) -> EncodeProfile:
    """Look a profile up by name; the error lists the valid names."""
    if isinstance(profile, EncodeProfile):
        return profile
    try:
        return PROFILES[profile]
    except KeyError:
        raise ConfigError(
            f"unknown encode profile {profile!r}; choose one of {', '.join(sorted(PROFILES))}"
        ) from None


GPU_BOX_X264_THREADS = 16  # x264 slice threads past this add little (and cost bitrate)


@dataclass(frozen=True)
class EncoderChoice:
    """The profile (possibly switched to NVENC) and encoder threads a render uses, and why."""

    profile: EncodeProfile
    threads: int | None
    reason: str


def choose_encoder(profile: str | EncodeProfile, *, video_encoder: str = "auto",
                   on_cuda: bool = False, threads: int | None = None,
                   x264_preset: str | None = None, ffmpeg: str) -> EncoderChoice:  # fmt: skip
    """``encode.video_encoder``: ``"software"`` keeps the profile's own encoder; ``"nvenc"``
    needs ``h264_nvenc`` (listed by ``ffmpeg`` *and* opening here, else :class:`FFmpegError`);
    ``"auto"`` takes NVENC only for a render that decodes on CUDA and only when it works, else
    libx264 with ``min(cores, 16)`` threads instead of the fixed default (the GPU outruns it).
    Only H.264 profiles switch; on the CPU path ``"auto"`` changes nothing. ``x264_preset``
    (``encode.x264_preset``) replaces a libx264 profile's preset; NVENC keeps its own."""
    base = get_profile(profile)
    if x264_preset and base.video_codec == "libx264":
        base = replace(base, preset=x264_preset)
    if video_encoder not in ("auto", "software", "nvenc"):
        raise ConfigError(f"encode.video_encoder {video_encoder!r}; choose auto, software, nvenc")
    if video_encoder == "software" or (video_encoder == "auto" and not on_cuda):
        return EncoderChoice(base, threads, f"{base.video_codec} (the profile's encoder)")
    if base.video_codec != "libx264":
        if video_encoder == "nvenc":
            raise ConfigError(f"encode.video_encoder: nvenc encodes H.264, profile {base.name!r} "
                              f"is {base.video_codec}")  # fmt: skip
        return EncoderChoice(base, threads, f"{base.video_codec} (no hardware encoder for it)")
    listed = NVENC in ffmpeg_encoders(ffmpeg)
    if listed and encoder_opens(ffmpeg, NVENC):
        nvenc = replace(base, name=f"{base.name}+nvenc", video_codec=NVENC)
        return EncoderChoice(nvenc, threads, f"{NVENC} (listed by {ffmpeg} and opens)")
    why = (
        "lists h264_nvenc but cannot open it (no NVIDIA driver?)" if listed else "has no h264_nvenc"
    )
    if video_encoder == "nvenc":
        raise FFmpegError(f"encode.video_encoder: nvenc, but the FFmpeg at {ffmpeg} {why}")
    more = threads or min(os.cpu_count() or 4, GPU_BOX_X264_THREADS)
    return EncoderChoice(base, more, f"libx264 with {more} threads: {ffmpeg} {why}")
