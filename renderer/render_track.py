"""Render one track of the album: ``<id>.mp4`` in the run folder, no album film.

``python renderer/render_track.py --config render.yaml --track opening``

Same options as ``render_album.py`` plus ``--track``; see :mod:`renderer.run.track`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

if __package__ in (None, ""):  # `python renderer/render_track.py`: the project root, not renderer/
    sys.path[0] = str(Path(__file__).resolve().parents[1])

from renderer.config.cli import add_cli_arguments
from renderer.run.album import run_album


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nts-render-track", description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=Path("render.yaml"))
    parser.add_argument("--track", required=True, help="track id from the tracklist")
    add_cli_arguments(parser)
    args = parser.parse_args(argv)
    args.tracks = args.track
    return run_album(args, with_film=False)


if __name__ == "__main__":
    sys.exit(main())
