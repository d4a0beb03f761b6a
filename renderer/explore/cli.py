"""``nts-explore AUDIO``: a gallery of short renders of one recording over backends × presets ×
seeds (× the values of one swept parameter), with stills of the model's anchors.

Writes ``-o/--output`` (default ``explore/``): ``index.html`` (self-contained), ``sheets/<id>.jpg``
(a frame a second of each tile's encoded clip), ``clips/<id>.mp4``, ``configs/<id>.yaml`` (the
whole render.yaml of that tile: ``nts-render-track --config <it> --track <id>`` renders the same
frames), ``anchors/``, ``tracklist.json``, ``explore.render.yaml`` (the run of every tile) and
``explore.json`` (each tile's settings and frame hashes). The tiles render as one run of the
normal render path (:func:`renderer.run.album.run_album`), into ``<output>/runs/<run-id>/``.

Example: ``nts-explore song.ogg --backend torch,cppn --preset default,cppn-flow --seeds 0,1
--sweep postfx.saturation=0.8,1,1.2``. Exit code 0 when every tile rendered, 1 when some
failed, 2 for bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from renderer.console import add_manners, make_console, verbosity
from renderer.errors import ConfigError, NoiseToSignalError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nts-explore", description=__doc__.split("\n\n")[0])
    parser.add_argument("audio", type=Path, metavar="AUDIO", help="the recording to explore")
    parser.add_argument("--config", type=Path,
                        help="render.yaml to start from (its album and tracks are not used; "
                             "default: the bundled settings)")  # fmt: skip
    parser.add_argument("-o", "--output", type=Path, default=Path("explore"), metavar="DIR",
                        help="gallery folder (default: explore)")  # fmt: skip
    parser.add_argument("--backend", metavar="NAMES",
                        help="comma-separated decoder backends: onnx, torch, cppn "
                             "(default: the settings' model.backend)")  # fmt: skip
    parser.add_argument("--preset", metavar="NAMES",
                        help="comma-separated presets (default: every bundled preset)")  # fmt: skip
    parser.add_argument("--seeds", default="0,1", metavar="N,…",
                        help="comma-separated track seeds (default: 0,1)")  # fmt: skip
    parser.add_argument("--sweep", metavar="BLOCK.FIELD=V1,V2,…",
                        help="one controller/postfx/cppn field and its values, e.g. "
                             "postfx.saturation=0.8,1,1.2")  # fmt: skip
    parser.add_argument("--start", type=float, metavar="S",
                        help="excerpt start in seconds (default: a third into the recording)")  # fmt: skip
    parser.add_argument("--seconds", type=float, default=3.0, metavar="S",
                        help="excerpt length, 1-30 s (default: 3)")  # fmt: skip
    parser.add_argument("--resolution", default="320x180", metavar="WxH",
                        help="tile size (default: 320x180)")  # fmt: skip
    parser.add_argument("--fps", type=int, default=24, help="frame rate, 24-120 (default: 24)")
    parser.add_argument("--model", type=Path, metavar="DIR",
                        help="model folder (default: the settings' model.dir, else the bundled one)")  # fmt: skip
    parser.add_argument("--no-anchors", action="store_true",
                        help="leave out the stills of the model's anchors")  # fmt: skip
    add_manners(parser)
    return parser


def _settings(args) -> tuple[dict, Path]:
    """``(render.yaml mapping without its album, model folder)`` to start from."""
    from renderer.config.loading import ALBUM_KEYS, bundled_defaults, bundled_model_dir
    from renderer.config.reading import read_yaml

    if args.config is None:
        defaults, model = bundled_defaults(), bundled_model_dir()
    else:
        raw = read_yaml(args.config)
        defaults = {k: v for k, v in raw.items() if k not in ALBUM_KEYS}
        folder = args.config.resolve().parent
        given = (raw.get("model") or {}).get("dir") if isinstance(raw.get("model"), dict) else None
        model = folder / given if given else folder / "models"
        if not given and not model.is_dir():
            model = bundled_model_dir()
    return defaults, (args.model or model).resolve()


def _excerpt(audio: Path, *, start: float | None, seconds: float) -> tuple[float, float]:
    """``(start, end)`` in seconds: ``start`` (default a third in) and ``seconds`` after it,
    kept inside the recording where its length is known."""
    from renderer.config.discover import read_tags

    if not 1.0 <= seconds <= 30.0:
        raise ConfigError(f"--seconds: must lie within 1..30 (got {seconds:g})")
    if start is not None and start < 0:
        raise ConfigError(f"--start: must be ≥ 0 (got {start:g})")
    duration = read_tags(audio).duration
    if start is None:
        start = duration / 3.0 if duration else 0.0
    if duration:
        start = max(0.0, min(start, duration - seconds))
    start = round(start, 2)
    return start, round(start + seconds, 2)


def explore(args, console) -> int:
    """The body of the command (``args`` from :func:`build_parser`)."""
    from renderer.config.cli import parse_resolution
    from renderer.config.discover import AUDIO_SUFFIXES
    from renderer.config.loading import build_config, load_config
    from renderer.explore import grid, output
    from renderer.presets import list_presets
    from renderer.run.album import run_album

    audio = args.audio.expanduser().resolve()
    if not audio.is_file() or audio.suffix.lower() not in AUDIO_SUFFIXES:
        raise ConfigError(f"{args.audio}: not an audio file (expected one of "
                          f"{', '.join(AUDIO_SUFFIXES)})")  # fmt: skip
    defaults, model_dir = _settings(args)
    backend = str((defaults.get("model") or {}).get("backend", "onnx"))
    backends = grid.parse_names(args.backend or backend, flag="--backend",
                                valid=("onnx", "torch", "cppn"))  # fmt: skip
    presets = grid.parse_names(args.preset or ",".join(list_presets()), flag="--preset",
                               valid=list_presets())  # fmt: skip
    sweep = grid.parse_sweep(args.sweep) if args.sweep else None
    trim = _excerpt(audio, start=args.start, seconds=args.seconds)
    tiles = grid.build_tiles(backends=backends, presets=presets, seeds=grid.parse_seeds(args.seeds),
                             sweep=sweep, trim=trim)  # fmt: skip
    out = args.output.resolve()
    size = tuple(parse_resolution(args.resolution))
    base = grid.base_settings(defaults=defaults, audio=audio, out_dir=out, model_dir=model_dir,
                              fps=args.fps, resolution=size, seconds=args.seconds)  # fmt: skip
    whole = grid.gallery_config(base, tiles, runs_dir=out / "runs")
    build_config(whole, source="nts-explore settings")  # errors name the field, before writing
    out.mkdir(parents=True, exist_ok=True)
    run_yaml = output.write_inputs(out, base=base, whole=whole, tiles=tiles, audio=audio)
    console.info(f"{len(tiles)} tiles of {audio.name} {trim[0]:g}-{trim[1]:g} s at "
                 f"{size[0]}x{size[1]}, {args.fps} fps -> {out}", soft_wrap=True)  # fmt: skip
    quiet, verbose = console.verbosity < 0, console.verbosity > 0
    code = run_album(argparse.Namespace(config=run_yaml, audio=None, quiet=quiet,
                                        verbose=verbose), with_film=False)  # fmt: skip
    if code == 2:
        return 2
    run_dir = load_config(run_yaml).run_dir()
    stills = []
    if not args.no_anchors:
        from renderer.explore.output import anchor_stills

        stills = anchor_stills(backends=backends, model_dir=model_dir, size=size,
                               out_dir=out / "anchors", gallery_dir=out)  # fmt: skip
    views = output.write_gallery(out, run_dir=run_dir, tiles=tiles, stills=stills,
                                 intro=output.intro(audio, trim=trim, size=size, fps=args.fps,
                                                    sweep=sweep))  # fmt: skip
    failed = [v.id for v in views if v.error]
    console.print(f"wrote {out / 'index.html'} ({len(views) - len(failed)} of {len(views)} "
                  f"tiles{', failed: ' + ', '.join(failed) if failed else ''})", soft_wrap=True)  # fmt: skip
    return 1 if failed or code else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    console = make_console(verbosity=verbosity(args))
    try:
        return explore(args, console)
    except NoiseToSignalError as exc:
        console.print(f"[red]error[/red] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
