"""``nts-explore``: tiles over backends × presets × seeds × one sweep, rendered by the normal
render path into a self-contained, escaped gallery whose every config renders its tile again."""

from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from audio_fixtures import click_track, triad, write_wav

from renderer.errors import ConfigError
from renderer.explore.cli import main as explore_main
from renderer.explore.grid import build_tiles, parse_names, parse_seeds, parse_sweep

SIZE = "128x72"


class _Page(HTMLParser):
    """The text of every ``<pre id=…>`` and the ``src`` of every img/video of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pres: dict[str, str] = {}
        self.sources: list[str] = []
        self._pre: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "pre":
            self._pre = attrs["id"]
            self.pres[self._pre] = ""
        elif tag in ("img", "video"):
            self.sources.append(attrs["src"])

    def handle_endtag(self, tag):
        if tag == "pre":
            self._pre = None

    def handle_data(self, data):
        if self._pre is not None:
            self.pres[self._pre] += data


def test_sweep_values_are_checked_against_the_schema_and_errors_name_the_field():
    sweep = parse_sweep("postfx.saturation=0.8,1,1.2")
    assert (sweep.key, sweep.values) == ("postfx.saturation", (0.8, 1, 1.2))
    assert sweep.overlay(2) == {"postfx": {"saturation": 2}}
    deep = parse_sweep("controller.motion.pulse_strength=0.1,0.5")
    assert deep.overlay(0.1) == {"controller": {"motion": {"pulse_strength": 0.1}}}
    with pytest.raises(ConfigError, match=r"postfx\.saturaton: unknown field"):
        parse_sweep("postfx.saturaton=1")
    with pytest.raises(ConfigError, match=r"postfx\.saturation: .*less than or equal to 3"):
        parse_sweep("postfx.saturation=1,9")
    for bad in ("saturation=1", "render.oversample=2", "postfx.saturation", "cppn.seed="):
        with pytest.raises(ConfigError, match="--sweep: expected BLOCK.FIELD"):
            parse_sweep(bad)
    with pytest.raises(ConfigError, match="--preset"):
        parse_sweep("controller.preset=a,b")
    with pytest.raises(ConfigError, match=r"--seeds: 'x'"):
        parse_seeds("0,x")
    with pytest.raises(ConfigError, match=r"--preset: unknown name 'nope'; valid: a, b"):
        parse_names("a,nope", flag="--preset", valid=["a", "b"])


def test_tiles_are_the_product_with_the_sweep_fastest():
    tiles = build_tiles(backends=["onnx", "cppn"], presets=["default"], seeds=[0, 5],
                        sweep=parse_sweep("cppn.seed=1,2"), trim=(1.0, 3.0))  # fmt: skip
    assert [t.id for t in tiles] == [f"t{i:03d}" for i in range(1, 9)]
    assert [(t.backend, t.seed, t.sweep[1]) for t in tiles[:3]] == [
        ("onnx", 0, 1), ("onnx", 0, 2), ("onnx", 5, 1)]  # fmt: skip
    assert tiles[-1].block == {"id": "t008", "preset": "default", "backend": "cppn", "seed": 5,
                               "trim": {"start": 1.0, "end": 3.0}, "cppn": {"seed": 2}}  # fmt: skip
    with pytest.raises(ConfigError, match="at most 200"):
        build_tiles(backends=["cppn"], presets=["default"], seeds=list(range(201)), sweep=None,
                    trim=(0.0, 1.0))  # fmt: skip


@pytest.fixture(scope="module")
def gallery(tmp_path_factory, tiny_model_dir):
    """A gallery of 4 tiles (GAN and CPPN × two saturations) of a 3-s recording whose file name
    needs escaping."""
    root = tmp_path_factory.mktemp("explore")
    y, _ = click_track(120, 3.0, seed=1)
    audio = write_wav(root / 'a<b>&"c".wav', y + triad("A", False, 3.0)[: len(y)])
    out = root / "gallery"
    code = explore_main([str(audio), "--model", str(tiny_model_dir), "--backend", "onnx,cppn",
                         "--preset", "cppn-flow", "--seeds", "3", "--sweep",
                         "postfx.saturation=0.8,1.2", "--seconds", "1", "--start", "0.5",
                         "--resolution", SIZE, "-o", str(out), "-q"])  # fmt: skip
    assert code == 0
    return out


def test_the_gallery_is_escaped_and_self_contained_with_everything_beside_it(gallery):
    page_text = (gallery / "index.html").read_text(encoding="utf-8")
    assert "a&lt;b&gt;&amp;&quot;c&quot;.wav" in page_text and "<b>" not in page_text
    assert "http://" not in page_text and "https://" not in page_text  # nothing fetched
    page = _Page()
    page.feed(page_text)
    assert sorted(page.pres) == [f"cfg-t00{i}" for i in range(1, 5)]
    assert len(page.sources) == 4 * 2 + 6 + 12  # a strip and a clip per tile; GAN, CPPN anchors
    for src in page.sources:
        assert not Path(src).is_absolute() and (gallery / src).is_file(), src
    summary = json.loads((gallery / "explore.json").read_text())
    tiles = {t["id"]: t for t in summary["tiles"]}
    assert [t["backend"] for t in tiles.values()] == ["onnx", "onnx", "cppn", "cppn"]
    assert all(t["ok"] and t["frames"] == 24 and len(t["frame_hashes"]) == 24
               for t in tiles.values())  # fmt: skip
    assert tiles["t001"]["frame_hashes"] != tiles["t002"]["frame_hashes"]  # the sweep shows
    assert tiles["t001"]["frame_hashes"] != tiles["t003"]["frame_hashes"]  # the backend too
    from PIL import Image

    strip = np.asarray(Image.open(gallery / "sheets" / "t003.jpg"))
    assert strip.shape == (72, 128, 3)  # 1 s: one frame a second


@pytest.mark.parametrize("tile", ["t001", "t004"])
def test_a_tiles_pasted_config_renders_its_frames_exactly(gallery, tile, tmp_path, monkeypatch):
    """The text of the tile's <pre>, saved as render.yaml elsewhere and rendered by
    nts-render-track, gives the frame hashes of the gallery's tile (GAN and CPPN)."""
    from renderer.render_track import main as track_main

    page = _Page()
    page.feed((gallery / "index.html").read_text(encoding="utf-8"))
    config = tmp_path / "render.yaml"
    config.write_text(page.pres[f"cfg-{tile}"], encoding="utf-8")
    assert config.read_text() == (gallery / "configs" / f"{tile}.yaml").read_text()
    monkeypatch.chdir(tmp_path)
    assert track_main(["--config", str(config), "--track", tile, "-q"]) == 0
    (meta,) = (tmp_path / "renders").glob("*/meta.json")
    track = json.loads(meta.read_text())["tracks"][0]
    hashes = [h for c in track["chunks"] for h in c["frame_hashes"]]
    expected = {t["id"]: t for t in json.loads((gallery / "explore.json").read_text())["tiles"]}
    assert hashes == expected[tile]["frame_hashes"]


def test_bad_input_exits_2_naming_the_field(tmp_path, capsys):
    audio = write_wav(tmp_path / "a.wav", triad("C", False, 1.0))
    for argv, needle in [
        (["--sweep", "postfx.grain=1"], "postfx.grain: unknown field"),
        (["--preset", "nope"], "--preset: unknown name 'nope'"),
        (["--backend", "gan"], "--backend: unknown name 'gan'"),
        (["--resolution", "129x72"], "resolution: width and height must be even"),
        (["--seconds", "0.2"], "--seconds: must lie within 1..30"),
    ]:
        assert explore_main([str(audio), "-o", str(tmp_path / "out"), *argv]) == 2
        assert needle in capsys.readouterr().err, argv
    assert not (tmp_path / "out").exists()  # nothing written for bad input
    assert explore_main([str(tmp_path / "missing.wav")]) == 2
    assert "not an audio file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        explore_main(["--version"])
    assert exc.value.code == 0 and "nts-explore" in capsys.readouterr().out


def test_settings_from_a_config_keep_its_look_and_resolve_its_model(tmp_path):
    """``--config``: its settings without its album and tracks, ``model.dir`` made absolute
    against the config's folder; the excerpt stays inside the recording."""
    import argparse

    from renderer.explore.cli import _excerpt, _settings

    (tmp_path / "my-model").mkdir()
    config = tmp_path / "render.yaml"
    config.write_text("model: {dir: my-model, backend: cppn}\npostfx: {vignette: 0.6}\n"
                      "album: {root: elsewhere}\ntracks: [{id: x}]\nrun_id: mine\n")  # fmt: skip
    args = argparse.Namespace(config=config, model=None)
    defaults, model = _settings(args)
    assert model == (tmp_path / "my-model").resolve()
    assert defaults == {"model": {"dir": "my-model", "backend": "cppn"},
                        "postfx": {"vignette": 0.6}}  # fmt: skip
    audio = write_wav(tmp_path / "a.wav", triad("C", False, 6.0))
    assert _excerpt(audio, start=None, seconds=3.0) == (2.0, 5.0)  # a third into 6 s
    assert _excerpt(audio, start=5.0, seconds=3.0) == (3.0, 6.0)  # kept inside
    with pytest.raises(ConfigError, match="--start: must be ≥ 0"):
        _excerpt(audio, start=-1.0, seconds=3.0)
