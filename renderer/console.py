"""The one place the command-line tools make their console, share their manners and report progress.

On a terminal: colour, a live progress bar and the terminal's width. Anywhere else (a pipe, a log
file, CI): no colour, no wrapping of lines (a path is never broken in two), tables laid out 200
columns wide whatever ``COLUMNS`` says, and progress as a plain line every few seconds, so what is
printed does not depend on the terminal. ``-q`` keeps errors, warnings and where the outputs are;
``-v`` adds the plan before a render and a line per finished track.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any

from rich.console import Console

PIPE_WIDTH = 200
PLAIN_EVERY_S = 5.0  # seconds between plain progress lines when stderr is not a terminal


class RunConsole(Console):
    """A rich console that knows the user's verbosity: -1 quiet, 0 normal, 1 verbose."""

    def __init__(self, *, verbosity: int = 0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.verbosity = verbosity

    def info(self, *objects: Any, **kwargs: Any) -> None:
        """Print unless ``-q`` (what a run is doing; errors and warnings use ``print``)."""
        if self.verbosity >= 0:
            self.print(*objects, **kwargs)

    def detail(self, *objects: Any, **kwargs: Any) -> None:
        """Print only with ``-v``."""
        if self.verbosity >= 1:
            self.print(*objects, **kwargs)


def make_console(*, stderr: bool = True, verbosity: int = 0) -> RunConsole:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return RunConsole(stderr=stderr, verbosity=verbosity)
    return RunConsole(stderr=stderr, soft_wrap=True, width=PIPE_WIDTH, no_color=True,
                      color_system=None, highlight=False, verbosity=verbosity)  # fmt: skip


def add_manners(parser: argparse.ArgumentParser, *, quiet: bool = True) -> None:
    """``--version`` and, where the command prints progress (``quiet``), ``-q``/``-v``."""
    from renderer import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}",
                        help="print the version and exit")  # fmt: skip
    if quiet:
        talk = parser.add_mutually_exclusive_group()
        talk.add_argument("-q", "--quiet", action="store_true",
                          help="print only errors, warnings and where the outputs are")  # fmt: skip
        talk.add_argument("-v", "--verbose", action="store_true",
                          help="also print the plan before rendering and a line per track")  # fmt: skip


def verbosity(args: argparse.Namespace) -> int:
    """-1 for ``-q``, 1 for ``-v``, else 0 (also for parsers without the flags)."""
    return -1 if getattr(args, "quiet", False) else int(bool(getattr(args, "verbose", False)))


def clock_text(seconds: float | None) -> str:
    """``H:MM:SS`` (``-:--:--`` when unknown)."""
    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "-:--:--"
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


class AlbumProgress:
    """Frames of the whole run against the frames of every planned track, known from the start.

    ``estimates`` (track id → expected frames, ``None`` when the header gave no duration) make the
    first total; :meth:`start` replaces a track's estimate with its exact count once its audio is
    analysed, and :meth:`finish` drops what a track that failed will never render, so the bar
    never goes backwards or ends short of 100 %. A live bar on a terminal; elsewhere a plain line
    every ``every`` seconds, and nothing at all with ``-q``.
    """

    def __init__(self, console: RunConsole, *, estimates: dict[str, int | None],
                 every: float | None = None,
                 clock: Callable[[], float] = time.perf_counter) -> None:  # fmt: skip
        self.console, self.clock = console, clock
        self.every = PLAIN_EVERY_S if every is None else every
        self.expected = {k: v or 0 for k, v in estimates.items()}
        self.done: dict[str, int] = dict.fromkeys(estimates, 0)
        self.track = ""
        self._bar = None
        self._task = None
        self._printed: tuple[int, int] | None = None  # (done, total) of the last plain line
        self._t0 = self._last = clock()

    @property
    def total(self) -> int:
        return sum(self.expected.values())

    @property
    def completed(self) -> int:
        return sum(self.done.values())

    def fps(self) -> float:
        return self.completed / max(self.clock() - self._t0, 1e-9)

    def eta(self) -> float | None:
        fps = self.fps()
        return (self.total - self.completed) / fps if self.completed and fps > 0 else None

    def __enter__(self) -> AlbumProgress:
        if self.console.verbosity >= 0 and self.console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TaskProgressColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TaskProgressColumn(), TextColumn("{task.fields[fps]:>5.1f} fps"),
                       TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())  # fmt: skip
            self._bar = Progress(*columns, console=self.console, transient=False)
            self._bar.__enter__()
            self._task = self._bar.add_task("album", total=self.total or None, fps=0.0)
        self._t0 = self._last = self.clock()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
        elif self.completed and self.console.verbosity >= 0:
            if self._printed != (self.completed, self.total):  # the final count, once
                self._line()

    def start(self, track_id: str, n_frames: int) -> None:
        """``track_id`` begins; it has exactly ``n_frames`` frames."""
        self.track = track_id
        self.expected[track_id] = max(n_frames, self.done.get(track_id, 0))
        self.done.setdefault(track_id, 0)
        self._refresh(force=False)

    def advance(self, n: int) -> None:
        self.done[self.track] = self.done.get(self.track, 0) + n
        self.expected[self.track] = max(self.expected.get(self.track, 0), self.done[self.track])
        self._refresh(force=False)

    def finish(self, track_id: str) -> None:
        """``track_id`` is over (rendered, reused or failed): what it did not render leaves the
        total."""
        self.expected[track_id] = self.done.get(track_id, 0)
        self._refresh(force=False)

    def note(self, text: str) -> None:
        """A message that goes above the live bar (or between plain lines)."""
        target = self._bar.console if self._bar is not None else self.console
        target.print(text)

    def _refresh(self, *, force: bool) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=self.track or "album", total=self.total,
                             completed=self.completed, fps=self.fps())  # fmt: skip
            return
        now = self.clock()
        if self.console.verbosity >= 0 and (force or now - self._last >= self.every):
            self._last = now
            self._line()

    def _line(self) -> None:
        total, done = self.total, self.completed
        self._printed = (done, total)
        share = f"{done / total:4.0%}" if total else "   ?"
        elapsed = self.clock() - self._t0
        self.console.print(f"{self.track or 'album'}: {done}/{total} frames {share}  "
                           f"{self.fps():.1f} fps  elapsed {clock_text(elapsed)}  "
                           f"ETA {clock_text(self.eta())}", soft_wrap=True)  # fmt: skip
