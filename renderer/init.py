"""Write an editable ``render.yaml`` + ``tracklist.json`` for a folder of audio files.

``nts-init FOLDER`` (``python -m renderer.init FOLDER``): the tracks as ``nts-render-album
FOLDER`` would find them (tag order, titles, safe ids), the bundled defaults written out with
comments, and a per-track block for each track to edit (preset, trim, seed). Then
``nts-render-album --config FOLDER/render.yaml`` renders it. Existing files are kept unless
``--force``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # `python renderer/init.py`: the project root, not renderer/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

import yaml

from renderer.errors import NoiseToSignalError

HEADER = """\
# Render config for the audio files in this folder, written by nts-init; edit freely.
# Render it with:  nts-render-album --config {config}
# Precedence: schema defaults < preset < values written here < per-track blocks < CLI flags.
# Relative paths are relative to this file. Every key is described in RENDER_GUIDE.md.

"""
ALBUM = """\
album:
  root: .                  # the audio files' folder; tracklist src paths must lie inside it
  tracklist: tracklist.json

"""
TRACK = """\
  - id: {id}{comment}
    # preset: {preset}         # one of: {presets}
    # trim: {{start: 0.0, end: 30.0}}   # seconds of the file to render
    # seed: 1               # another picture sequence for the same music
"""


def render_yaml_text(*, config: Path, tracks: list[Any], defaults: dict[str, Any],
                     model_dir: Path, presets: list[str]) -> str:  # fmt: skip
    """The commented ``render.yaml``: the bundled defaults, the album, a block per track."""
    text = HEADER.format(config=config)
    general = {k: v for k, v in defaults.items() if k != "model"}
    scalars = {k: v for k, v in general.items() if not isinstance(v, dict)}
    for key, value in scalars.items():  # scalars and [w, h] on one line each (JSON is YAML)
        text += f"{key}: {json.dumps(value)}\n"
    text += "\n" if scalars else ""
    for key, value in general.items():  # then one section at a time, in the bundled file's order
        if isinstance(value, dict):
            text += yaml.safe_dump({key: value}, sort_keys=False, default_flow_style=False) + "\n"
    model = {k: v for k, v in (defaults.get("model") or {}).items() if k != "dir"}
    where = f"without it: ./models if that folder exists, else the bundled model ({model_dir})"
    if model:
        text += yaml.safe_dump({"model": model}, sort_keys=False)
        text += f"  # dir: models          # {where}\n\n"
    else:
        text += f"# model: {{dir: models}}   # {where}\n\n"
    text += ALBUM
    text += "# Per-track settings; ids as in tracklist.json.\ntracks:\n"
    preset = (defaults.get("controller") or {}).get("preset", "default")
    for t in tracks:
        label = " — ".join(v for v in (t.title, t.artist) if v)
        text += TRACK.format(id=t.id, comment=f"   # {label}" if label else "", preset=preset,
                             presets=", ".join(presets))  # fmt: skip
    return text


def init_folder(folder: Path, *, force: bool = False) -> tuple[Path, Path]:
    """Write ``folder/render.yaml`` and ``folder/tracklist.json``; returns their paths.

    Raises :class:`~renderer.errors.ConfigError` when either exists (and not ``force``) or the
    folder has no audio files."""
    from renderer.config.discover import discover_tracks, tracklist_entries
    from renderer.config.loading import bundled_defaults, bundled_model_dir, load_config
    from renderer.errors import ConfigError
    from renderer.files import write_text_atomic
    from renderer.presets import list_presets

    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder (nts-init takes the folder of an album)")
    config, tracklist = folder / "render.yaml", folder / "tracklist.json"
    existing = [p for p in (config, tracklist) if p.exists()]
    if existing and not force:
        raise ConfigError(f"{existing[0]}: exists; not overwritten (--force replaces it)")
    root, tracks = discover_tracks(folder)
    entries = tracklist_entries(root, tracks)
    text = render_yaml_text(config=config.resolve(), tracks=tracks, defaults=bundled_defaults(),
                            model_dir=bundled_model_dir(), presets=list_presets())  # fmt: skip
    write_text_atomic(tracklist, json.dumps({"tracks": entries}, indent=1, ensure_ascii=False))
    write_text_atomic(config, text)
    load_config(config)  # what was written must load: a bug here is ours, not the user's
    return config, tracklist


def main(argv: list[str] | None = None) -> int:
    from renderer.console import add_manners, make_console

    parser = argparse.ArgumentParser(
        prog="nts-init", description=" ".join(__doc__.split("\n\n")[:2])
    )
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="folder of audio files")
    parser.add_argument("--force", action="store_true",
                        help="replace an existing render.yaml / tracklist.json")  # fmt: skip
    add_manners(parser, quiet=False)
    args = parser.parse_args(argv)
    console = make_console()
    try:
        config, tracklist = init_folder(args.folder, force=args.force)
    except NoiseToSignalError as exc:
        console.print(f"[red]error[/red] {exc}", soft_wrap=True)
        return 2
    n = len(json.loads(tracklist.read_text(encoding="utf-8"))["tracks"])
    console.print(f"wrote {config} and {tracklist} ({n} track(s)); render with:", soft_wrap=True)
    console.print(f"  nts-render-album --config {config}", soft_wrap=True, markup=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
