"""The one ending every table-printing benchmark shares."""

from __future__ import annotations

from pathlib import Path


def finish_table(lines: list[str], out: Path | None) -> int:
    """Print the Markdown table ``lines`` on stdout (progress went to stderr), write it to
    ``out`` where one was given, and return the exit code 0."""
    table = "\n".join(lines)
    print(table)
    if out:
        out.write_text(table + "\n")
    return 0
