"""What-if analysis: edit a scenario from the command line (``--set KEY=VALUE``).

Overrides are applied to the parsed inputs before any check runs, so an edited scenario passes
exactly the checks a hand-edited copy of the files would, and errors name the override.
"""

from greenslot.analysis.whatif.overrides import (
    Override,
    load_with_overrides,
    parse_override,
    recorded_overrides,
)

__all__ = ["Override", "load_with_overrides", "parse_override", "recorded_overrides"]
