"""Render the whole album: every track's video, then ``album.mp4`` with one chapter per track.

``python renderer/render_album.py --config render.yaml [--resume] [--dry-run] [--quality full] …``

See :mod:`renderer.run.album` for what a run writes and RENDER_GUIDE.md for the options.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python renderer/render_album.py`: the project root, not renderer/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from renderer.config.cli import add_cli_arguments
from renderer.run.album import run_album


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nts-render-album", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("render.yaml"), help="render config")
    add_cli_arguments(parser)
    return run_album(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
