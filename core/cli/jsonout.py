"""``--json``: one strict JSON document on stdout, for every verb a machine reads.

Why one helper: every verb must print the same kind of document (strict JSON, so ``NaN`` and
``Infinity`` become ``null``; numpy and pandas scalars as plain numbers; paths and times as
text), and each verb's progress and notes must then go to stderr, never into the document.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any


def add_json_option(parser: argparse.ArgumentParser, what: str) -> None:
    """``--json``: print ``what`` as one JSON document on stdout (notes go to stderr)."""
    parser.add_argument("--json", action="store_true",
                        help=f"print {what} as one JSON document on stdout (notes and progress "
                             "on stderr)")


def strict(value: Any) -> Any:
    """``value`` as plain JSON types: non-finite numbers -> ``None``, numpy -> Python,
    paths and times -> text, durations -> seconds, tuples and sets -> lists."""
    if isinstance(value, Mapping):
        return {str(k): strict(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = sorted(value, key=str) if isinstance(value, set | frozenset) else value
        return [strict(v) for v in items]
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    item = getattr(value, "item", None)  # numpy and pandas scalars
    if callable(item):
        return strict(item())
    isoformat = getattr(value, "isoformat", None)  # pandas Timestamp
    if callable(isoformat):
        return isoformat()
    return str(value)


def dumps(document: Any) -> str:
    """``document`` as strict JSON text (``allow_nan=False`` after :func:`strict`)."""
    return json.dumps(strict(document), indent=2, allow_nan=False)


def emit(document: Any) -> None:
    """Print ``document`` as the one JSON document of this run on stdout."""
    print(dumps(document), flush=True)


def say_for(args: argparse.Namespace) -> Callable[[str], None]:
    """Where a verb's running notes go: stdout, or stderr when stdout carries ``--json``."""
    stream_is_err = bool(getattr(args, "json", False))

    def say(line: str) -> None:
        print(line, file=sys.stderr if stream_is_err else sys.stdout, flush=True)

    return say
