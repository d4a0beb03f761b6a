"""The one place the command-line tools make their rich console.

On a terminal: colour, live progress and the terminal's width. Anywhere else (a pipe, a log file,
CI): no colour, no wrapping of lines (a path is never broken in two) and tables laid out 200
columns wide, whatever ``COLUMNS`` says, so what is printed does not depend on the terminal.
"""

from __future__ import annotations

import sys

from rich.console import Console

PIPE_WIDTH = 200


def make_console(*, stderr: bool = True) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    if stream.isatty():
        return Console(stderr=stderr)
    return Console(stderr=stderr, soft_wrap=True, width=PIPE_WIDTH, no_color=True,
                   color_system=None, highlight=False)  # fmt: skip
