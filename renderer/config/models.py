"""The ``render.yaml`` schema (spec §7.3) as pydantic v2 models: one model per config section,
used both to validate files and by the stage that reads the section (``PostFXConfig`` is what
:class:`renderer.fx.postfx.PostFX` takes). A leaf: it imports nothing from the project.

Every model forbids unknown keys. Precedence, lowest first (ARCHITECTURE §9, STYLE 2)::

    schema defaults < quality table < preset YAML < fields set in render.yaml < per-track block < CLI

"Fields set" means written in the file (pydantic's ``model_fields_set``); laying them over the
layers below is :mod:`renderer.config.overlay`, and validation errors are worded by
:mod:`renderer.config.messages` (both leaves too). Loading files, presets and CLI overrides sit
above these modules (:mod:`renderer.config.loading`, :mod:`renderer.presets`,
:mod:`renderer.config.cli`). Relative paths are relative to the directory of the config file.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

TRACK_ID = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
ANCHOR_STATS = ("luma", "saturation", "warmth", "contrast", "texture", "colourfulness", "detail")
MAX_W, MAX_H = 7680, 4320
QUALITY: dict[str, dict[str, Any]] = {
    # draft halves the resolution (see _apply_quality), uses the fast encode profile and the
    # bicubic enlargement (the learned upscaler costs ~25 ms per 1080p frame here)
    "draft": {
        "frame_rate": 24,
        "render": {"oversample": 1},
        "encode": {"profile": "draft"},
        "postfx": {"upscale": "bicubic"},
    },
    "standard": {"frame_rate": 30, "render": {"oversample": 1}},
    # full also spends more of the encoder on each frame (+0.8 dB PSNR at the same bitrate)
    "full": {"frame_rate": 60, "render": {"oversample": 2}, "encode": {"x264_preset": "veryfast"}},
}


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class TempoSync(Strict):
    enabled: bool = True
    subdivision: float = Field(1.0, ge=0.125, le=8.0)  # pulse period in beats: 0.5 = eighths


class AnchorPreference(Strict):
    """Scores anchors by ``meta.json`` statistics/tags; softmax(score / temperature) → weights."""

    prefer: dict[str, float] = Field(default_factory=dict)  # stat → weight on its z-score
    tags: dict[str, float] = Field(default_factory=dict)  # tag → score bonus when present
    temperature: float = Field(1.0, ge=0.05, le=10.0)
    per_scene: int = Field(3, ge=1, le=8)  # anchors a scene drifts between
    shuffle_seed: int = Field(0, ge=0)

    @field_validator("prefer")
    @classmethod
    def _known_stats(cls, value: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(value) - set(ANCHOR_STATS))
        if unknown:
            raise ValueError(f"unknown anchor stat(s) {unknown}; valid: {list(ANCHOR_STATS)}")
        return value


class Motion(Strict):
    """How features map to motion (see renderer/control/controller.py for the formulas)."""

    pulse_strength: float = Field(0.35, ge=0.0, le=1.5)  # latent push at pulse = 1 (× norm)
    pulse_decay: float = Field(0.35, ge=0.02, le=4.0)  # pulse e-folding time in beats
    beat_pulse: float = Field(0.8, ge=0.0, le=1.0)  # weight of the tempo-synced pulse
    onset_pulse: float = Field(0.5, ge=0.0, le=1.0)  # weight of the onset-driven pulse
    percussive_gain: float = Field(0.6, ge=0.0, le=1.0)  # beat pulse scaled by percussive energy
    pulse_axis: int = Field(0, ge=0, le=63)  # PCA axis of meta.json the pulse pushes along
    beat_confidence: float = Field(0.5, ge=0.0, le=1.0)  # beats below this confidence: onsets
    offbeat_onsets: float = Field(0.35, ge=0.0, le=1.0)  # onset kicks between trusted beats
    latency: float = Field(0.0, ge=-0.2, le=0.2)  # s the accents move earlier (measured lag)
    drift_speed: float = Field(0.04, ge=0.0, le=2.0)  # anchor cycles per second, silent
    harmonic_drift: float = Field(0.12, ge=0.0, le=2.0)  # extra cycles/s at harmonic = 1
    focus: float = Field(2.5, ge=0.0, le=20.0)  # how close the drift stays to single anchors
    chroma_anchor: float = Field(1.0, ge=0.0, le=8.0)  # logit boost from the anchor's pitch class
    energy_wander: float = Field(0.5, ge=0.0, le=1.0)  # share of wander that follows loudness
    scene_changes: bool = True
    crossfade: float = Field(0.75, ge=0.0, le=10.0)  # seconds from one scene's anchors to the next
    min_scene: float = Field(2.0, ge=0.0, le=120.0)  # boundaries closer than this are merged
    scene_motion: float = Field(1.0, ge=0.0, le=1.5)  # fast sweep at a scene change (× norm)


class ControllerSettings(Strict):
    preset: str = "default"
    smoothing_alpha: float = Field(0.9, ge=0.0, le=0.999)  # per frame at 30 fps
    wander_seed: int | None = Field(None, ge=0)
    wander_scale: float = Field(0.25, ge=0.0, le=1.0)  # max wander norm / latent norm
    wander_speed: float = Field(0.08, ge=0.0, le=4.0)  # Hz of the slowest wander component
    tempo_sync: TempoSync = TempoSync()
    anchors: AnchorPreference = AnchorPreference()
    motion: Motion = Motion()


class PostFXConfig(Strict):
    """Per-track post-processing (the ``postfx`` block of ``render.yaml`` and presets); what
    :class:`renderer.fx.postfx.PostFX` takes. Frozen: one track's settings never change mid-render."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    tone_curve: Literal["none", "filmlog", "aces", "contrast"] = "filmlog"
    lut: str | None = None
    lut_strength: float = Field(1.0, ge=0.0, le=1.0)
    exposure: float = Field(0.0, ge=-4.0, le=4.0)
    vignette: float = Field(0.25, ge=0.0, le=1.0)
    grain_intensity: float = Field(0.15, ge=0.0, le=1.0)
    chroma_shift: float = Field(0.004, ge=0.0, le=0.05)
    persistence: float = Field(0.0, ge=0.0, le=0.98)
    pulse_exposure: float = Field(0.0, ge=-4.0, le=4.0)
    cut_exposure: float = Field(0.0, ge=-4.0, le=4.0)
    saturation: float = Field(1.0, ge=0.0, le=3.0)  # Oklab chroma gain, gamut soft-clipped
    # Auto-grading, from each frame's own statistics (renderer/fx/autograde.py). Levels are
    # those of the encoded picture: mean / std of the 8-bit grey frame, mean HSV saturation.
    auto_exposure: float = Field(0.0, ge=0.0, le=1.0)  # pull of a frame's mean luma to target
    target_luma: float = Field(118.0, ge=16.0, le=235.0)
    luma_range: tuple[float, float] | None = None  # every frame's mean luma held inside
    min_contrast: float = Field(0.0, ge=0.0, le=80.0)  # grey std stretched up to at least this
    saturation_range: tuple[float, float] | None = None  # mean HSV saturation held inside
    max_auto_stops: float = Field(2.0, ge=0.0, le=4.0)  # limit of the auto exposure gain
    gamut_knee: float = Field(0.85, ge=0.5, le=1.0)  # chroma share of the gamut left untouched
    sharpen: float = Field(0.0, ge=0.0, le=2.0)  # unsharp mask at the output size
    # decode size → output size: the model's learned ×4 upscaler (bicubic where it has none) or
    # a bicubic enlargement (renderer/decode/upscaler.py)
    upscale: Literal["learned", "bicubic"] = "learned"

    @field_validator("luma_range", "saturation_range")
    @classmethod
    def _ordered_range(cls, value, info):
        if value is None:
            return value
        lo, hi = value
        top = 255.0 if info.field_name == "luma_range" else 1.0
        if not 0.0 <= lo < hi <= top:
            raise ValueError(f"needs 0 <= low < high <= {top:g}, got [{lo:g}, {hi:g}]")
        return value


class AlbumConfig(Strict):
    root: Path = Path("album")
    tracklist: Path = Path("album/tracklist.json")


BACKEND_NAMES = ("onnx", "torch", "cppn")  # decoder backends (renderer/decode/decoder.py)


class CPPNConfig(Strict):
    """The CPPN backend's look (``model.cppn``, a preset's or a track's ``cppn`` block): a seeded
    network of plane waves in (x, y), radial units in r and ``layers`` hidden layers of mixed
    sine/Gaussian/tanh units, conditioned per frame on the controller's latent (phases, rotation,
    zoom, biases), its pulse (amplitude) and the frame time (flow). See renderer/decode/cppn.py."""

    model_config = ConfigDict(extra="forbid", validate_default=True, frozen=True)

    seed: int = Field(0, ge=0)  # the network's weights (the track seed moves the controller)
    width: int = Field(16, ge=4, le=32)  # units per layer
    layers: int = Field(2, ge=1, le=4)  # hidden layers after the coordinate layer
    radial: int = Field(3, ge=0, le=8)  # coordinate units in r (the rest are plane waves)
    min_frequency: float = Field(1.5, gt=0.0, le=100.0)  # rad per half picture height
    max_frequency: float = Field(900.0, gt=0.0, le=4000.0)
    fine_share: float = Field(0.5, ge=0.0, le=1.0)  # share of plane waves in the fine band
    weight_scale: float = Field(1.6, gt=0.0, le=8.0)  # hidden-layer weight std × √fan-in
    phase_gain: float = Field(1.0, ge=0.0, le=8.0)  # latent → wave phases (rad per unit)
    bias_gain: float = Field(0.5, ge=0.0, le=4.0)  # latent → hidden biases
    rotate_gain: float = Field(0.15, ge=0.0, le=2.0)  # latent → rotation (rad per unit)
    zoom_gain: float = Field(0.1, ge=0.0, le=1.0)  # latent → log zoom
    pulse_gain: float = Field(0.6, ge=0.0, le=4.0)  # pulse → amplitude of the first hidden layer
    pulse_zoom: float = Field(0.05, ge=-1.0, le=1.0)  # pulse → log zoom
    flow_speed: float = Field(0.3, ge=0.0, le=8.0)  # rad/s of wave phase drift (time input)
    colour_gain: float = Field(1.0, ge=0.1, le=4.0)  # output pre-activation scale (contrast)
    luma: float = Field(0.47, ge=0.2, le=0.8)  # target mean grey (0-1), set per frame
    contrast: float = Field(0.2, ge=0.05, le=0.4)  # target grey standard deviation (0-1)
    saturation: float = Field(0.46, ge=0.0, le=0.9)  # target mean HSV saturation

    @model_validator(mode="after")
    def _band(self) -> CPPNConfig:
        if self.max_frequency < self.min_frequency:
            raise ValueError(
                f"max_frequency ({self.max_frequency}) must be ≥ min_frequency "
                f"({self.min_frequency})"
            )
        if self.radial >= self.width:
            raise ValueError(f"radial ({self.radial}) must be < width ({self.width})")
        return self


class ModelConfig(Strict):
    dir: Path = Path("models")
    backend: Literal["onnx", "torch", "cppn"] = "onnx"
    cppn: CPPNConfig = CPPNConfig()  # used by backend: cppn (presets/tracks may overlay it)


class AudioConfig(Strict):
    sample_rate: int = Field(48000, ge=8000, le=192000)
    normalization: float = Field(-14.0, ge=-30.0, le=-5.0)  # integrated LUFS


class AnalysisConfig(Strict):
    # "madmom" (the optional [madmom] extra): its RNN+DBN beats; its model files are CC BY-NC-SA
    beat_tracker: Literal["ours", "madmom"] = "ours"


class DecoderConfig(Strict):
    batch_size: int = Field(8, ge=1, le=256)
    execution_provider: Literal["auto", "cuda", "cpu"] = "auto"
    threads: int | None = Field(None, ge=1, le=256)
    # On CUDA (torch backend): frames per batch from free GPU memory instead of batch_size
    # (renderer/decode/device_pipeline.py). No effect on the CPU.
    auto_batch: bool = True
    # torch.compile for the torch generator and the learned upscaler (renderer/decode/compile.py):
    # auto = on the CPU where a C++ compiler is found; on; off. Falls back to eager on failure.
    compile: Literal["auto", "on", "off"] = "auto"

    @field_validator("compile", mode="before")
    @classmethod
    def _yaml_switch(cls, value: Any) -> Any:
        # YAML 1.1 reads a bare on/off (and yes/no, true/false) as a boolean
        return ("on" if value else "off") if isinstance(value, bool) else value


X264Preset = Literal["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow",
                     "slower", "veryslow", "placebo"]  # fmt: skip


class EncodeConfig(Strict):
    profile: Literal["youtube", "webm", "master", "draft"] = "youtube"
    webm: bool = False  # also write <id>.webm
    ffmpeg_path: Path | None = None
    threads: int | None = Field(None, ge=1, le=64)
    # H.264 encoder: auto = h264_nvenc when decoding on CUDA and FFmpeg can open it, else the
    # profile's libx264; software = always the profile's; nvenc = h264_nvenc or an error.
    video_encoder: Literal["auto", "software", "nvenc"] = "auto"
    # libx264's speed/efficiency preset for the profile's H.264 encode (None: the profile's own —
    # youtube superfast, master slow, draft ultrafast). benchmarks/video_encode.py measures them.
    x264_preset: X264Preset | None = None


EXECUTION_FIELDS = ("executor", "workers", "address", "task_cpus", "task_gpus", "max_retries")


class RenderOptions(Strict):
    chunk_seconds: float = Field(10.0, ge=1.0, le=600.0)
    oversample: int = Field(1, ge=1, le=4)
    keep_frames: bool = False
    debug_frames: bool = False
    previews: bool = True
    # Where chunks render (ARCHITECTURE §8); none of these changes a frame, so none is in the run id.
    executor: Literal["local", "processes", "ray"] = "local"
    workers: int | None = Field(None, ge=1, le=1024)  # processes: pool size (None: one per core)
    address: str | None = Field(None, max_length=200)  # ray: cluster address (None: start one here)
    task_cpus: float = Field(1.0, gt=0.0, le=256.0)  # ray: CPUs reserved per chunk task
    task_gpus: float = Field(0.0, ge=0.0, le=16.0)  # ray: GPUs reserved per chunk task
    max_retries: int = Field(3, ge=0, le=100)  # a chunk whose worker died is tried again this often


class RunOptions(Strict):
    """Per-invocation switches (normally from the CLI); not part of the run id."""

    tracks: list[str] | None = None
    resume: bool = False
    dry_run: bool = False


class Trim(Strict):
    start: float = Field(0.0, ge=0.0)
    end: float | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Trim:
        if self.end is not None and self.end <= self.start:
            raise ValueError(f"end ({self.end}) must be after start ({self.start})")
        return self


class TrackOverride(Strict):
    id: Annotated[str, Field(pattern=TRACK_ID)]
    src: str | None = None
    preset: str | None = None
    seed: int | None = Field(None, ge=0)
    trim: Trim | None = None
    stems: str | bool | None = None  # folder (default <album root>/stems/<id>); false: none
    controller: ControllerSettings | None = None
    postfx: PostFXConfig | None = None
    cppn: CPPNConfig | None = None
    backend: Literal["onnx", "torch", "cppn"] | None = None  # this track's decoder (model.backend)


class RenderConfig(Strict):
    output_root: Path = Path("renders")
    run_id: Annotated[str, Field(pattern=TRACK_ID)] | None = None
    quality: Literal["draft", "standard", "full"] = "standard"
    frame_rate: int = Field(30, ge=24, le=120)
    resolution: tuple[int, int] = (1920, 1080)
    seed: int = Field(0, ge=0)
    album: AlbumConfig = AlbumConfig()
    model: ModelConfig = ModelConfig()
    audio: AudioConfig = AudioConfig()
    analysis: AnalysisConfig = AnalysisConfig()
    controller: ControllerSettings = ControllerSettings()
    decoder: DecoderConfig = DecoderConfig()
    postfx: PostFXConfig = PostFXConfig()
    encode: EncodeConfig = EncodeConfig()
    render: RenderOptions = RenderOptions()
    run: RunOptions = RunOptions()
    tracks: list[TrackOverride] | None = None

    _source: Path | None = PrivateAttr(default=None)

    @field_validator("resolution")
    @classmethod
    def _encodable(cls, value: tuple[int, int]) -> tuple[int, int]:
        width, height = value
        # H.264/VP9 with 4:2:0 chroma need even sizes; macroblock alignment is the encoder's job.
        if width % 2 or height % 2:
            raise ValueError(
                f"width and height must be even for 4:2:0 video (got {width}x{height})"
            )
        if not (64 <= width <= MAX_W and 64 <= height <= MAX_H):
            raise ValueError(f"must lie within 64x64 .. {MAX_W}x{MAX_H} (got {width}x{height})")
        return value

    @field_validator("tracks")
    @classmethod
    def _unique_ids(cls, value: list[TrackOverride] | None) -> list[TrackOverride] | None:
        ids = [t.id for t in value or []]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"track ids must be unique (repeated: {dupes})")
        return value

    @property
    def base_dir(self) -> Path:
        """Directory that relative paths are resolved against (the config file's)."""
        return self._source.parent if self._source else Path.cwd()

    def path(self, value: str | Path) -> Path:
        """``value`` resolved against :attr:`base_dir` (absolute paths stay as they are)."""
        value = Path(value)
        return value if value.is_absolute() else (self.base_dir / value)

    def run_identity(self) -> str:
        """``run_id`` if set, else ``run-<hash>`` of the config without per-invocation switches."""
        if self.run_id:
            return self.run_id
        # Switches that do not change the frames (run flags, intermediates, previews, executor) stay
        # out of the hash, so `--resume --keep-frames` finds the same run folder.
        data = self.model_dump(
            mode="json",
            exclude={
                "run": True,
                "run_id": True,
                "render": {"keep_frames", "debug_frames", "previews", *EXECUTION_FIELDS},
            },
        )
        digest = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
        return f"run-{digest[:10]}"

    def run_dir(self) -> Path:
        return self.path(self.output_root) / self.run_identity()

    def to_dict(self) -> dict[str, Any]:
        """JSON-able resolved config (for ``meta.json``), including the effective run id."""
        data = self.model_dump(mode="json")
        data["run_id"] = self.run_identity()
        return data
