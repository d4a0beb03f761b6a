"""Render the whole album: every track's video, then ``album.mp4`` with one chapter per track.

``nts-render-album FOLDER`` (no config: the audio files in FOLDER in track-number order, titles
from their tags, the bundled defaults and model, output in ./renders/<run-id>/), or
``nts-render-album --config render.yaml [--resume] [--dry-run] [--quality full] …``.

See :mod:`renderer.run.album` for what a run writes and RENDER_GUIDE.md for the options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python renderer/render_album.py`: the project root, not renderer/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from renderer.config.cli import add_cli_arguments
from renderer.console import add_manners
from renderer.run.album import run_album


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nts-render-album", description=" ".join(__doc__.split("\n\n")[:2])
    )
    parser.add_argument("audio", nargs="?", type=Path, metavar="FOLDER",
                        help="a folder of audio files to render with the bundled defaults "
                             "(no config, no tracklist)")  # fmt: skip
    parser.add_argument("--config", type=Path,
                        help="render config (default: render.yaml, when no FOLDER is given)")  # fmt: skip
    add_manners(parser)
    add_cli_arguments(parser)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.audio is not None and args.config is not None:
        parser.error("give FOLDER or --config, not both")
    if args.audio is not None and (args.audio / "render.yaml").is_file() and not args.quiet:
        print(f"note: {args.audio / 'render.yaml'} is not read without "
              f"--config {args.audio / 'render.yaml'}", file=sys.stderr)  # fmt: skip
    return run_album(args)


if __name__ == "__main__":
    sys.exit(main())
