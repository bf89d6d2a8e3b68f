"""Slurm hostlist expressions: ``gpu[001-016]`` <-> ``gpu001 ... gpu016``.

Why our own: the scenario names nodes the way Slurm does and ``sbatch --nodelist`` takes the same
syntax; the rules we need (ranges with zero padding, comma lists, several bracket groups) are
small and pulling in a dependency for them is not worth it.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable

_BRACKET = re.compile(r"\[([^\]]*)\]")
_VALID_NAME = re.compile(r"[A-Za-z0-9_.\-]+")  # fullmatch: "$" would pass a final "\n"


MAX_HOSTS = 100_000
"""More names than any cluster has: an expression that expands further is a typo (n[1-1000000]).
It bounds the whole expression (every comma part and list item together), not each range."""
MAX_DIGITS = 9
"""Longest number in a range: Python refuses to read numbers of over 4,300 digits at all, and
no cluster numbers its nodes past 999,999,999."""
_NUMBER = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")
_RANGE = re.compile(rf"([0-9]{{1,{MAX_DIGITS}}})-([0-9]{{1,{MAX_DIGITS}}})")


class HostlistError(ValueError):
    """An expression that is not a valid Slurm hostlist."""


class TooManyHostsError(HostlistError):
    """An expression that is valid but names more hosts than the limit allows."""


def natural_key(name: str) -> tuple:
    """Sort key that orders ``node2`` before ``node10``, as Slurm lists nodes."""
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def _split_top_level(expression: str) -> list[str]:
    """Split on commas that are not inside brackets."""
    parts: list[str] = []
    depth = 0
    current: list[str] = []
    for char in expression:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
            if depth < 0:
                raise HostlistError(f"unbalanced ']' in {_cut(expression)}")
        if char == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    if depth != 0:
        raise HostlistError(f"unbalanced '[' in {_cut(expression)}")
    parts.append("".join(current))
    return [p.strip() for p in parts if p.strip()]


def _cut(text: str, chars: int = 60) -> str:
    """``repr`` of a piece of an expression, cut so one error stays one readable line."""
    shown = repr(text)
    return shown if len(shown) <= chars else f"{shown[:chars]}... ({len(text)} characters)"


def _expand_range_list(body: str, expression: str, limit: int) -> list[str]:
    values: list[str] = []
    for item in body.split(","):
        item = item.strip()
        if _NUMBER.fullmatch(item):
            values.append(item)
            continue
        match = _RANGE.fullmatch(item)
        if not match:
            raise HostlistError(f"bad range {_cut(item)} in {_cut(expression)} (numbers of at "
                                f"most {MAX_DIGITS} digits)")
        low, high = match.groups()
        if int(high) < int(low):
            raise HostlistError(f"range {item!r} runs backwards in {_cut(expression)}")
        if int(high) - int(low) + 1 + len(values) > limit:
            raise TooManyHostsError(f"range {item!r} in {_cut(expression)} gives more than "
                                    f"{limit} names")
        width = len(low) if low.startswith("0") else 0
        values.extend(str(i).zfill(width) for i in range(int(low), int(high) + 1))
    return values


def _expand_one(expression: str, limit: int) -> list[str]:
    pieces = _BRACKET.split(expression)
    literals, ranges = pieces[0::2], pieces[1::2]
    if any("[" in lit or "]" in lit for lit in literals):
        raise HostlistError(f"nested or unbalanced brackets in {_cut(expression)}")
    choices = [_expand_range_list(body, expression, limit) for body in ranges]
    if math.prod(len(c) for c in choices) > limit:
        raise TooManyHostsError(f"{_cut(expression)} gives more than {limit} names")
    names = []
    for combo in itertools.product(*choices):
        name = literals[0] + "".join(v + lit for v, lit in zip(combo, literals[1:], strict=True))
        if not _VALID_NAME.fullmatch(name):
            raise HostlistError(f"bad host name {_cut(name)} in {_cut(expression)}")
        names.append(name)
    return names


def expand(expression: str | Iterable[str], limit: int = MAX_HOSTS) -> list[str]:
    """Expand a hostlist expression (or a list of them) into host names, in written order.

    ``limit`` bounds the names of the whole expression; past it :class:`TooManyHostsError`.

    >>> expand("gpu[01-03],cpu7")
    ['gpu01', 'gpu02', 'gpu03', 'cpu7']
    """
    items = [expression] if isinstance(expression, str) else list(expression)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise HostlistError(f"host name must be a string, got {_cut(repr(item))}")
        for part in _split_top_level(item):
            names.extend(_expand_one(part, limit - len(names)))
    if not names:
        raise HostlistError(f"empty hostlist {_cut(str(expression))}")
    return names


def compress(names: Iterable[str]) -> str:
    """Shortest-form hostlist of ``names`` (natural order), inverse of :func:`expand`.

    Only the last run of digits in each name is folded into a range, which is the form Slurm
    itself prints.

    >>> compress(["gpu03", "gpu01", "gpu02", "cpu7"])
    'cpu7,gpu[01-03]'
    """
    groups: dict[tuple[str, str, int], list[int]] = {}
    plain: list[str] = []
    for name in sorted(set(names), key=natural_key):
        match = re.fullmatch(r"(.*?)(\d+)(\D*)", name)
        if not match:
            plain.append(name)
            continue
        prefix, digits, suffix = match.groups()
        width = len(digits) if digits.startswith("0") and len(digits) > 1 else 0
        groups.setdefault((prefix, suffix, width), []).append(int(digits))
    parts = list(plain)
    for (prefix, suffix, width), numbers in groups.items():
        runs: list[tuple[int, int]] = []
        for number in sorted(numbers):
            if runs and number == runs[-1][1] + 1:
                runs[-1] = (runs[-1][0], number)
            else:
                runs.append((number, number))
        if len(numbers) == 1:
            parts.append(f"{prefix}{str(numbers[0]).zfill(width)}{suffix}")
            continue
        body = ",".join(
            str(a).zfill(width) if a == b else f"{str(a).zfill(width)}-{str(b).zfill(width)}"
            for a, b in runs
        )
        parts.append(f"{prefix}[{body}]{suffix}")
    return ",".join(sorted(parts, key=natural_key))
