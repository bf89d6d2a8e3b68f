"""The sweep's grid: ``--vary KEY=v1,v2,...`` options and their cartesian product."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from greenslot.analysis.whatif import Override, parse_override
from greenslot.model.checks import fail

MAX_POINTS = 1000


def split_values(text: str) -> list[str]:
    """Split on commas outside brackets, braces and quotes, so ``{cost: 1, carbon_kg: 2}`` or
    ``[a, b]`` stay one value."""
    values: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "[{(":
            depth += 1
        elif char in "]})":
            depth -= 1
        elif char == "," and depth == 0:
            values.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    values.append("".join(current).strip())
    return values


@dataclass(frozen=True)
class Axis:
    """One ``--vary`` option: a key and the values it takes."""

    key: str
    values: tuple[str, ...]


def parse_vary(text: str) -> Axis:
    """Read ``KEY=v1,v2,...``; the key is checked like a ``--set`` key."""
    key, sep, rest = text.partition("=")
    values = split_values(rest) if sep else []
    if not sep or not rest.strip() or any(v == "" for v in values):
        fail("bad_override", f"--vary {text}", message="expected KEY=v1,v2,... with no empty value")
    parse_override(f"{key}={values[0]}", flag="--vary")  # checks the key's shape
    if len(set(values)) != len(values):
        fail("bad_override", f"--vary {text}", message="a value is listed twice")
    return Axis(key.strip(), tuple(values))


def grid_points(axes: Sequence[Axis]) -> list[tuple[Override, ...]]:
    """Every combination of the axes' values, first axis slowest, as overrides."""
    keys = [axis.key for axis in axes]
    if len(set(keys)) != len(keys):
        fail("bad_override", "--vary", message="each key may be varied once")
    size = 1
    for axis in axes:
        size *= len(axis.values)
    if size > MAX_POINTS:
        fail("bad_override", "--vary", message=f"{size} points; at most {MAX_POINTS} per sweep")
    return [tuple(Override(axis.key, value, "--vary") for axis, value in zip(axes, combo,
                                                                           strict=True))
            for combo in itertools.product(*(axis.values for axis in axes))]
