"""Strict CSV reading for user files: every row as wide as the header, no silent repairs.

pandas alone turns a row with an extra cell into an index column and renames duplicate headers
(``gpus.1``), which would plan the wrong job without a word. Here both are errors naming the
line.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd

from greenslot.model.checks import fail


def read_strict_csv(path: Path, display: str, check: str = "bad_csv") -> pd.DataFrame:
    """All cells as stripped text; ``check`` names the failure (``bad_csv`` or ``bad_plan``)."""
    try:
        # utf-8-sig: Excel and many Windows tools start a CSV with a byte-order mark, which
        # would otherwise glue itself onto the first column's name.
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = list(csv.reader(handle, strict=True))
    except (csv.Error, UnicodeDecodeError) as exc:
        fail(check, display, None, None, f"cannot parse CSV: {exc}")
    except OSError as exc:
        fail("missing_file", display, None, None, f"cannot read: {exc.strerror}")
    if not rows or not any(cell.strip() for cell in rows[0]):
        fail(check, display, "line 1", None, "file is empty; expected a header line")
    header = [cell.strip() for cell in rows[0]]
    seen: set[str] = set()
    for name in header:
        if not name:
            fail(check, display, "line 1", None, "a column has no name")
        if name in seen:
            fail(check, display, "line 1", name, "column appears twice")
        seen.add(name)
    body = []
    for number, row in enumerate(rows[1:], start=2):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != len(header):
            fail(check, display, f"line {number}", None,
                 f"{len(row)} cells for {len(header)} columns (an unquoted comma?)")
        body.append(list(map(str.strip, row)))
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.attrs["lines"] = [n for n, row in enumerate(rows[1:], start=2)
                            if row and not (len(row) == 1 and not row[0].strip())]
    return frame
