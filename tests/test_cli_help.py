"""Every option and argument of every verb says what it is for (issue 17, item 10)."""

from __future__ import annotations

import argparse

import pytest

from greenslot.cli import build_parser, main


def _undocumented(parser: argparse.ArgumentParser, name: str) -> list[str]:
    found = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for verb, sub in action.choices.items():
                found += _undocumented(sub, f"{name} {verb}")
        elif not action.help:
            found.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    return found


def test_every_option_and_argument_has_help():
    assert _undocumented(build_parser(), "greenslot") == []


@pytest.mark.parametrize("value", ["0", "1.5", "1000"])
def test_simulate_threads_is_bounded_like_plans(value, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["simulate", "scenario", "--threads", value])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--threads" in err
