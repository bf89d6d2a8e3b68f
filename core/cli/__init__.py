"""The ``greenslot`` command line: one module per family of verbs.

``app`` builds the parser and maps typed errors to exit codes in one place; ``args`` holds the
argument types every verb shares; ``progress`` draws the one-line solver progress on a
terminal. Nothing below the CLI imports from here.
"""

from greenslot.cli.app import build_parser, main

__all__ = ["build_parser", "main"]
