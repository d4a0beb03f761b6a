"""Render one track: ``<id>.mp4`` in the run folder, no album film.

``nts-render-track song.wav`` (no config: the bundled defaults and model, title from the tags,
output in ./renders/<run-id>/), or ``nts-render-track --config render.yaml --track opening``.

Same options as ``render_album.py``; see :mod:`renderer.run.track`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python renderer/render_track.py`: the project root, not renderer/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from renderer.config.cli import add_cli_arguments
from renderer.console import add_manners
from renderer.run.album import run_album


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nts-render-track", description=" ".join(__doc__.split("\n\n")[:2])
    )
    parser.add_argument("audio", nargs="?", type=Path, metavar="AUDIO",
                        help="an audio file to render with the bundled defaults (no config)")  # fmt: skip
    parser.add_argument("--config", type=Path,
                        help="render config (default: render.yaml, when no AUDIO is given)")  # fmt: skip
    parser.add_argument("--track", metavar="ID", help="track id from the config's tracklist")
    add_manners(parser)
    add_cli_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.audio is not None and (args.track or args.config):
        parser.error("give AUDIO, or --config with --track; not both")
    if args.audio is None and not args.track:
        parser.error("give an audio file (nts-render-track song.wav) or --track ID with a config")
    if args.audio is not None and args.audio.is_dir():
        parser.error(f"{args.audio} is a folder; nts-render-album renders a folder")
    if args.track:
        args.tracks = args.track
    return run_album(args, with_film=False)


if __name__ == "__main__":
    sys.exit(main())
