"""render.yaml schema, overlays, CLI overrides, tracklist validation and per-track plans."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import yaml

from renderer.config.cli import add_cli_arguments, overrides_from_args, parse_resolution
from renderer.config.loading import build_config, load_config
from renderer.config.models import PostFXConfig, RenderConfig
from renderer.config.tracklist import derive_seed, load_tracklist, resolve_track, select_tracks
from renderer.errors import ConfigError
from renderer.presets import list_presets, load_preset

ROOT = Path(__file__).resolve().parents[1]


def write_yaml(tmp_path: Path, data: dict, name: str = "render.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def make_album(tmp_path: Path, tracks: list[dict] | None = None) -> Path:
    album = tmp_path / "album"
    album.mkdir(exist_ok=True)
    tracks = tracks or [
        {"id": "opening", "src": "01-opening.mp3", "bpm": 120, "key": "Am", "markers": [4.0, 9.5]},
        {"id": "second", "src": "02.mp3", "title": "Second", "loop": False},
    ]
    for t in tracks:
        (album / t["src"]).parent.mkdir(parents=True, exist_ok=True)
        (album / t["src"]).write_bytes(b"")
    (album / "tracklist.json").write_text(json.dumps(tracks))
    return album / "tracklist.json"


def parse_cli(argv: list[str]) -> dict:
    parser = argparse.ArgumentParser()
    add_cli_arguments(parser)
    return overrides_from_args(parser.parse_args(argv))


def test_bundled_render_yaml_is_the_fast_1080p30_youtube_default():
    config = load_config(ROOT / "render.yaml")
    assert config.resolution == (1920, 1080) and config.frame_rate == 30
    assert config.encode.profile == "youtube" and config.render.oversample == 1
    presets = set(list_presets())
    assert config.tracks and all(t.preset in presets for t in config.tracks)
    assert config.path(config.album.root) == ROOT / "album"


def test_render_yaml_track_ids_match_the_bundled_tracklist():
    tracklist = ROOT / "album" / "tracklist.json"
    if not tracklist.is_file():
        pytest.skip("album/tracklist.json is not rendered in this checkout")
    config = load_config(ROOT / "render.yaml")
    tracks = load_tracklist(
        config.path(config.album.tracklist), album_root=config.path(config.album.root)
    )
    assert select_tracks(config, tracks) == tracks
    for track in tracks:
        assert resolve_track(config, track).preset in list_presets()


def test_album_tracklist_format_loads_and_matches_render_yaml(tmp_path):
    """Entries as album/compose.py writes them (extra keys: sections, duration, first_beat)."""
    from album.compose import track_entry
    from album.songs import ORDER, SONGS

    entries = [
        track_entry(SONGS[i], number=n + 1, duration=SONGS[i].duration) for n, i in enumerate(ORDER)
    ]
    tracks = load_tracklist(make_album(tmp_path, entries))
    assert [t.id for t in tracks] == list(ORDER)
    assert all(t.markers and "sections" in t.extra for t in tracks)
    assert select_tracks(load_config(ROOT / "render.yaml"), tracks) == tracks


def test_defaults_and_json_round_trip(tmp_path):
    config = load_config(write_yaml(tmp_path, {}))
    assert config.output_root == Path("renders") and config.render.chunk_seconds == 10
    data = config.to_dict()
    assert json.loads(json.dumps(data))["run_id"] == config.run_identity()
    assert config.run_dir() == tmp_path / "renders" / config.run_identity()


@pytest.mark.parametrize(
    ("patch", "field", "got"),
    [
        ({"controller": {"smoothing_alpha": 1.5}}, "controller.smoothing_alpha", "1.5"),
        ({"frame_rate": 23}, "frame_rate", "23"),
        ({"frame_rate": 121}, "frame_rate", "121"),
        ({"resolution": [1921, 1080]}, "resolution", "even"),
        ({"resolution": [8192, 4320]}, "resolution", "7680x4320"),
        ({"resolution": [32, 32]}, "resolution", "64x64"),
        ({"decoder": {"batch_size": 0}}, "decoder.batch_size", "0"),
        ({"audio": {"normalization": -40}}, "audio.normalization", "-40"),
        ({"render": {"oversample": 5}}, "render.oversample", "5"),
        ({"encode": {"profile": "vhs"}}, "encode.profile", "vhs"),
        ({"postfx": {"vignette": 2}}, "postfx.vignette", "2"),
        (
            {"controller": {"anchors": {"prefer": {"shininess": 1}}}},
            "controller.anchors.prefer",
            "shininess",
        ),
        ({"tracks": [{"id": "a", "trim": {"start": 5, "end": 2}}]}, "tracks.0.trim", "end"),
        ({"tracks": [{"id": "a"}, {"id": "a"}]}, "tracks", "unique"),
        ({"tracks": [{"id": "../evil"}]}, "tracks.0.id", "evil"),
    ],
)
def test_errors_name_file_field_and_value(tmp_path, patch, field, got):
    path = write_yaml(tmp_path, patch)
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(path) in message and f": {field}:" in message and got in message


def test_unknown_keys_are_rejected_everywhere(tmp_path):
    for patch, field in [
        ({"framerate": 30}, "framerate"),
        ({"render": {"chunks": 3}}, "render.chunks"),
    ]:
        with pytest.raises(ConfigError, match=rf"{field}: unknown field"):
            load_config(write_yaml(tmp_path, patch))


def test_1080p_is_valid_although_not_divisible_by_16(tmp_path):
    assert load_config(write_yaml(tmp_path, {"resolution": [1920, 1080]})).resolution[1] % 16 == 8


def test_unknown_preset_lists_the_valid_ones(tmp_path):
    for patch in ({"controller": {"preset": "nope"}}, {"tracks": [{"id": "a", "preset": "nope"}]}):
        with pytest.raises(ConfigError) as err:
            load_config(write_yaml(tmp_path, patch))
        assert "render.yaml" in str(err.value) and "nope" in str(err.value)
        assert all(name in str(err.value) for name in list_presets())


def test_yaml_problems_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("frame_rate: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    bad.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(bad)
    bad.write_text("frame_rate: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(ConfigError, match="not valid YAML"):  # safe_load refuses the tag
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    (tmp_path / "empty.yaml").write_text("")
    assert load_config(tmp_path / "empty.yaml").frame_rate == 30


def test_quality_fills_only_what_the_file_leaves_open(tmp_path):
    config = load_config(write_yaml(tmp_path, {"quality": "full"}))
    assert (config.frame_rate, config.render.oversample) == (60, 2)
    config = load_config(write_yaml(tmp_path, {"quality": "full", "frame_rate": 48}))
    assert (config.frame_rate, config.render.oversample) == (48, 2)
    draft = load_config(write_yaml(tmp_path, {"quality": "draft", "resolution": [1280, 720]}))
    assert draft.resolution == (1280, 720) and draft.encode.profile == "draft"
    draft = load_config(write_yaml(tmp_path, {"quality": "draft"}))
    assert draft.resolution == (960, 540) and draft.frame_rate == 24


def test_x264_preset_defaults_to_the_profiles_and_full_quality_spends_more(tmp_path):
    assert load_config(write_yaml(tmp_path, {})).encode.x264_preset is None  # the profile's own
    assert load_config(write_yaml(tmp_path, {"quality": "full"})).encode.x264_preset == "veryfast"
    mine = {"quality": "full", "encode": {"x264_preset": "slow"}}
    assert load_config(write_yaml(tmp_path, mine)).encode.x264_preset == "slow"
    with pytest.raises(ConfigError, match="encode.x264_preset") as err:
        load_config(write_yaml(tmp_path, {"encode": {"x264_preset": "fastest"}}))
    assert "veryfast" in str(err.value)  # the valid names are listed


def test_cli_quality_beats_the_file_and_cli_fps_beats_quality(tmp_path):
    path = write_yaml(tmp_path, {"frame_rate": 30})
    assert load_config(path, overrides=parse_cli(["--quality", "full"])).frame_rate == 60
    config = load_config(path, overrides=parse_cli(["--quality", "full", "--fps", "50"]))
    assert (config.frame_rate, config.render.oversample, config.quality) == (50, 2, "full")


def test_cli_overrides_reach_their_fields(tmp_path):
    path = write_yaml(tmp_path, {"tracks": [{"id": "a", "preset": "drift"}]})
    argv = "--preset pulse --resolution 1280x720 --tracks a,b --resume --dry-run --keep-frames"
    argv += " --debug-frames --batch-size 4 --backend torch --provider cpu --output-root out"
    overrides = parse_cli(argv.split())
    config = load_config(path, overrides=overrides)
    assert config.controller.preset == "pulse" and config.tracks[0].preset is None
    assert config.resolution == (1280, 720) and config.run.tracks == ["a", "b"]
    assert config.run.resume and config.run.dry_run
    assert config.render.keep_frames and config.render.debug_frames
    assert (config.decoder.batch_size, config.model.backend) == (4, "torch")
    assert config.decoder.execution_provider == "cpu" and config.output_root == Path("out")
    assert parse_cli([]) == {}


def test_cli_override_errors(tmp_path):
    path = write_yaml(tmp_path, {})
    with pytest.raises(ConfigError, match="--resolution"):
        load_config(path, overrides={"resolution": "wide"})
    with pytest.raises(ConfigError, match="unknown key"):
        load_config(path, overrides={"colour": "red"})
    with pytest.raises(ConfigError, match="frame_rate"):
        load_config(path, overrides={"fps": 500})
    assert parse_resolution((640, 360)) == [640, 360]


def test_run_id_is_a_stable_hash_of_the_config_not_of_the_run_switches(tmp_path):
    a = build_config({"frame_rate": 30})
    assert a.run_identity() == build_config({}, overrides={"resume": True}).run_identity()
    assert a.run_identity() != build_config({"frame_rate": 60}).run_identity()
    assert build_config({"run_id": "album-v1"}).run_identity() == "album-v1"
    assert a.base_dir == Path.cwd() and a.path("/abs") == Path("/abs")


def test_tracklist_loads_and_keeps_extra_keys(tmp_path):
    tracks = load_tracklist(make_album(tmp_path))
    assert [t.id for t in tracks] == ["opening", "second"]
    assert tracks[0].src == (tmp_path / "album" / "01-opening.mp3").resolve()
    assert tracks[0].markers == (4.0, 9.5) and tracks[0].bpm == 120
    assert tracks[1].title == "Second" and tracks[1].extra == {"loop": False}
    wrapped = tmp_path / "album" / "wrapped.json"
    wrapped.write_text(json.dumps({"title": "LP", "tracks": [{"id": "x", "src": "02.mp3"}]}))
    assert load_tracklist(wrapped)[0].title == "x"


@pytest.mark.parametrize(
    ("entry", "needle"),
    [
        ({"id": "a", "src": "../secret.mp3"}, "outside the album folder"),
        ({"id": "a", "src": "sub/../../secret.mp3"}, "outside the album folder"),
        ({"id": "a", "src": "/etc/passwd"}, "absolute path"),
        ({"id": "a", "src": "a.mp3", "markers": [5.0, 2.0]}, "markers"),
        ({"id": "a", "src": "a.mp3", "markers": [-1.0]}, "markers"),
        ({"id": "a", "src": "a.mp3", "bpm": 0}, "bpm"),
        ({"id": "bad id", "src": "a.mp3"}, "id"),
        ({"src": "a.mp3"}, "id: Field required"),
    ],
)
def test_tracklist_rejects_bad_entries_naming_file_and_field(tmp_path, entry, needle):
    path = tmp_path / "tracklist.json"
    path.write_text(json.dumps([entry]))
    with pytest.raises(ConfigError) as err:
        load_tracklist(path)
    assert str(path) in str(err.value) and "[0]" in str(err.value) and needle in str(err.value)


def test_tracklist_file_level_errors(tmp_path):
    path = tmp_path / "tracklist.json"
    with pytest.raises(ConfigError, match="not found"):
        load_tracklist(path)
    for text, needle in [("{", "not valid JSON"), ("[]", "non-empty list"), ('{"a": 1}', "list")]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=needle):
            load_tracklist(path)
    path.write_text(json.dumps([{"id": "a", "src": "1.mp3"}, {"id": "a", "src": "2.mp3"}]))
    with pytest.raises(ConfigError, match=r"\[1\]\.id: duplicate track id 'a'"):
        load_tracklist(path)


def test_resolve_track_precedence_defaults_preset_config_track(tmp_path):
    tracks = load_tracklist(make_album(tmp_path))
    config = build_config(
        {
            "controller": {"preset": "pulse", "wander_scale": 0.11},
            "postfx": {"grain_intensity": 0.05},
            "tracks": [
                {
                    "id": "opening",
                    "preset": "drift",
                    "seed": 7,
                    "trim": {"start": 5.0},
                    "controller": {"motion": {"crossfade": 0.1}},
                    "postfx": {"vignette": 0.9},
                }
            ],
        }
    )
    opening, second = (resolve_track(config, t) for t in tracks)
    drift, pulse = load_preset("drift"), load_preset("pulse")
    assert opening.preset == "drift" and second.preset == "pulse"
    # preset value where nobody else wrote one
    assert opening.controller.smoothing_alpha == drift.controller.smoothing_alpha
    assert second.controller.motion.pulse_strength == pulse.controller.motion.pulse_strength
    # render.yaml beats the preset, the track block beats both
    assert opening.controller.wander_scale == second.controller.wander_scale == 0.11
    assert opening.controller.motion.crossfade == 0.1
    assert second.controller.motion.crossfade == pulse.controller.motion.crossfade
    assert opening.controller.motion.drift_speed == drift.controller.motion.drift_speed
    assert opening.postfx.vignette == 0.9 and opening.postfx.grain_intensity == 0.05
    assert isinstance(opening.postfx, PostFXConfig) and second.postfx.lut == pulse.postfx.lut
    # seeds: explicit, else derived by name from (config.seed, track id)
    assert opening.seed == 7 and second.seed == derive_seed(0, "track", "second")
    assert derive_seed(0, "track", "second") != derive_seed(1, "track", "second")
    # markers move with the trim
    assert opening.markers == (4.5,) and opening.trim.start == 5.0 and second.trim.end is None
    record = opening.to_dict()
    assert json.loads(json.dumps(record))["controller"]["preset"] == "drift"
    assert record["id"] == opening.id == "opening"


def test_track_src_override_stays_inside_the_album(tmp_path):
    tracklist = make_album(tmp_path)
    (tmp_path / "album" / "alt.mp3").write_bytes(b"")
    good = {"album": {"root": "album"}, "tracks": [{"id": "opening", "src": "alt.mp3"}]}
    config = load_config(write_yaml(tmp_path, good))
    plan = resolve_track(config, load_tracklist(tracklist)[0])
    assert plan.track.src == (tmp_path / "album" / "alt.mp3").resolve()
    bad = {"tracks": [{"id": "opening", "src": "../render.yaml"}]}
    with pytest.raises(ConfigError, match="tracks.opening.src.*outside"):
        resolve_track(load_config(write_yaml(tmp_path, bad)), load_tracklist(tracklist)[0])


def test_select_tracks_checks_ids(tmp_path):
    tracks = load_tracklist(make_album(tmp_path))
    assert select_tracks(build_config({}), tracks) == tracks
    assert [
        t.id for t in select_tracks(build_config({}, overrides={"tracks": "second"}), tracks)
    ] == ["second"]
    with pytest.raises(ConfigError, match="unknown track id.*valid ids: opening, second"):
        select_tracks(build_config({}, overrides={"tracks": "third"}), tracks)
    with pytest.raises(ConfigError, match="tracks.typo: no such track"):
        select_tracks(build_config({"tracks": [{"id": "typo"}]}), tracks)


def test_postfx_settings_are_one_frozen_model():
    """One definition: render.yaml's postfx block is what PostFX takes, validated and frozen."""
    from pydantic import ValidationError

    from renderer.fx.postfx import PostFX

    fx = PostFX(RenderConfig().postfx, size=(32, 18), seed=0, track_id="t")
    assert fx.settings is RenderConfig().postfx or fx.settings == PostFXConfig()
    with pytest.raises(ValidationError):
        RenderConfig().postfx.grain_intensity = 0.5  # frozen
    with pytest.raises(ValidationError, match="persistence"):
        PostFXConfig(persistence=0.99)


def test_a_stated_beat_grid_is_the_reference_in_trimmed_time(tmp_path):
    """bpm + first_beat in the tracklist → the beat grid relative to the trim's start, inside the
    rendered span; either missing → no reference (never a guessed grid)."""
    from renderer.config.tracklist import TrackSpec

    (tmp_path / "a.wav").write_bytes(b"")
    spec = TrackSpec(id="a", src=tmp_path / "a.wav", bpm=120.0, first_beat=0.25)
    assert spec.reference_beats(start=0.0, duration=2.0) == (0.25, 0.75, 1.25, 1.75)
    # trimmed from 1.0 s: the beats at 1.25, 1.75, 2.25 s of the file are 0.25, 0.75, 1.25 s
    assert spec.reference_beats(start=1.0, duration=1.5) == (0.25, 0.75, 1.25)
    assert TrackSpec(id="a", src=spec.src, bpm=120.0).reference_beats(start=0, duration=9) == ()
    assert (
        TrackSpec(id="a", src=spec.src, first_beat=0.0).reference_beats(start=0, duration=9) == ()
    )
    tracklist = tmp_path / "tracklist.json"
    tracklist.write_text(json.dumps([{"id": "a", "src": "a.wav", "bpm": 90, "first_beat": -1}]))
    with pytest.raises(ConfigError, match=r"first_beat"):
        load_tracklist(tracklist)


@pytest.mark.parametrize(("text", "want"), [("on", "on"), ("off", "off"), ("auto", "auto")])
def test_decoder_compile_reads_a_bare_yaml_on_off(tmp_path, text, want):
    """YAML 1.1 turns a bare ``on``/``off`` into a boolean; ``decoder.compile`` takes it as meant."""
    make_album(tmp_path)
    path = tmp_path / "render.yaml"
    path.write_text(f"album: {{tracklist: album/tracklist.json}}\ndecoder:\n  compile: {text}\n")
    assert load_config(path).decoder.compile == want
