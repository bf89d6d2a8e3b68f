"""Reading the scenario YAML safely: no duplicate keys, no alias bombs, no deep nesting.

Why not ``yaml.safe_load`` alone: it accepts a key written twice (keeping the last value
silently), and it builds whatever aliases describe. A 930-byte "billion laughs" document names
a structure of billions of nodes; PyYAML shares them in memory, but the first code that walks
or prints the value never ends. Deep nesting overflows Python's stack inside the composer. All
three are input errors here, named like any other (``bad_yaml``, ``too_large``).
"""

from __future__ import annotations

from typing import Any

import yaml

from greenslot.model.checks import fail

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists: a scenario needs 5; 64 is far from Python's stack."""
MAX_NODES = 250_000
"""Most YAML nodes a document may stand for once aliases are expanded. A scenario of 100,000
nodes written one per entry (the node limit) stays far below; an alias bomb is far above."""


class _DuplicateKeyError(yaml.YAMLError):
    """A mapping names one key twice; PyYAML would silently keep the last value."""

    def __init__(self, key: str, line: int, first_line: int) -> None:
        super().__init__(f"duplicate key {key!r}")
        self.key, self.line, self.first_line = key, line, first_line


class _TooComplexError(yaml.YAMLError):
    """Nesting deeper than :data:`MAX_DEPTH`, or more than :data:`MAX_NODES` once expanded."""

    def __init__(self, message: str, line: int | None) -> None:
        super().__init__(message)
        self.message, self.line = message, line


class _LimitedLoader(yaml.SafeLoader):
    """SafeLoader that rejects duplicate keys, deep nesting and large alias expansions."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        # The composer recurses once per level; count before Python's own limit is reached.
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise _TooComplexError(f"nested more than {MAX_DEPTH} levels deep",
                                       mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        _check_expanded_size(node)
        return self.construct_document(node)

    def construct_mapping(self, node, deep=False):
        first: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                seen = first.get(key)
            except TypeError:  # an unhashable key: let PyYAML report it
                continue
            if seen is not None:
                raise _DuplicateKeyError(str(key), key_node.start_mark.line + 1, seen)
            first[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def _check_expanded_size(root: yaml.Node) -> None:
    """Raise when the document, aliases expanded, has more than :data:`MAX_NODES` nodes.

    The composed graph shares an aliased node wherever it is used, so its expanded size is
    counted once per distinct node (memoised), in time linear in the bytes of the file.
    """
    sizes: dict[int, int] = {}
    # Depth-first without recursion: a node's size is known once all its children's are.
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if id(node) in sizes:
            continue
        children = _children(node)
        if not children_done:
            stack.append((node, True))
            stack.extend((c, False) for c in children if id(c) not in sizes)
            continue
        total = 1 + sum(sizes.get(id(c), 0) for c in children)
        if total > MAX_NODES:
            raise _TooComplexError(
                f"the document stands for more than {MAX_NODES} values once its aliases "
                "(*name) are expanded; write the values out or use fewer aliases",
                node.start_mark.line + 1)
        sizes[id(node)] = total


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


def load_yaml(text: str, display: str) -> Any:
    """Parse ``text``; every problem is a named input error naming ``display`` and the line."""
    try:
        return yaml.load(text, Loader=_LimitedLoader)
    except _DuplicateKeyError as exc:
        fail("bad_yaml", display, f"line {exc.line}", exc.key,
             f"key appears twice in one mapping (first on line {exc.first_line}); keep one")
    except _TooComplexError as exc:
        fail("too_large", display, None if exc.line is None else f"line {exc.line}", None,
             exc.message)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        row = f"line {mark.line + 1}" if mark else None
        problem = " ".join(str(getattr(exc, "problem", None) or exc).split())
        fail("bad_yaml", display, row, None,
             f"not valid YAML: {problem}; check indentation (spaces, no tabs) and quotes")
    except RecursionError:
        # Flow collections ([[[...]]]) nest in the parser itself, before the composer counts.
        fail("too_large", display, None, None, f"nested more than {MAX_DEPTH} levels deep")


__all__ = ["MAX_DEPTH", "MAX_NODES", "load_yaml"]
