"""Config errors as people read them: one ``source: a.b.c: message (got value)`` line per pydantic
error, with rejected values quoted only up to a length (an error never echoes a whole input).
A leaf: it imports nothing from the project."""

from __future__ import annotations

import reprlib
from typing import Any

from pydantic import ValidationError

MAX_ECHO = 200  # characters of a rejected value quoted in an error message


def format_validation_error(source: str, exc: ValidationError) -> str:
    """``source: a.b.c: message (got value)`` lines, one per pydantic error."""
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        msg = err["msg"].removeprefix("Value error, ")
        got = (
            f" (got {clip_value(err['input'])})"
            if err["type"] != "missing" and "input" in err
            else ""
        )
        if err["type"] == "value_error" and "(got" in msg:
            got = ""  # our validators already quote the value
        if err["type"] == "extra_forbidden":
            msg, got = "unknown field", ""
        lines.append(f"{source}: {loc}: {msg}{got}")
    return "\n".join(lines)


def clip_value(value: Any, limit: int = MAX_ECHO) -> str:
    """``repr(value)`` cut to ``limit`` characters (error messages never echo a whole input)."""
    short = reprlib.Repr()  # (keyword arguments only from Python 3.12)
    short.maxstring, short.maxother, short.maxlist, short.maxdict, short.maxlevel = (
        limit, limit, 8, 8, 3)  # fmt: skip
    text = short.repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
