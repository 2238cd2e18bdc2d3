"""YAML read with line numbers, so every complaint about a policy or waiver file names its line.

PyYAML's constructed objects forget where they came from; this walks the node
tree instead and keeps the line of every mapping value and list item.
"""

from __future__ import annotations

from typing import Any

import yaml


class PolicyError(ValueError):
    """A policy or waiver file that cannot be used, with the file and line at fault."""

    def __init__(self, path: str, line: int, problem: str):
        super().__init__(f"{path}:{line}: {problem}")
        self.path, self.line, self.problem = path, line, problem


class Mapping(dict):
    """A YAML mapping; `.line` is where it starts, `.lines[key]` where each key is."""

    line: int = 0
    lines: dict


class Sequence(list):
    """A YAML list; `.line` is where it starts, `.lines[i]` where each item is."""

    line: int = 0
    lines: list


def load(path: str) -> Any:
    """The document in `path` as Mapping/Sequence/scalars (None for an empty file)."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise PolicyError(path, 0, f"cannot read: {e.strerror or e}") from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        return None if node is None else _convert(loader, node, path)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 0
        raise PolicyError(path, line, f"not valid YAML: {e.problem or e.context}") from None
    except yaml.YAMLError as e:
        raise PolicyError(path, 0, f"not valid YAML: {e}") from None
    finally:
        loader.dispose()


def _convert(loader, node, path: str) -> Any:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out = Mapping()
        out.line, out.lines = line, {}
        for k_node, v_node in node.value:
            key = _scalar(loader, k_node, path)
            if not isinstance(key, str):
                raise PolicyError(path, k_node.start_mark.line + 1, f"key {key!r} is not a name")
            if key in out:
                raise PolicyError(
                    path, k_node.start_mark.line + 1, f"'{key}' is given twice (first on line {out.lines[key]})"
                )
            out[key] = _convert(loader, v_node, path)
            out.lines[key] = k_node.start_mark.line + 1
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = Sequence()
        seq.line, seq.lines = line, []
        for item in node.value:
            seq.append(_convert(loader, item, path))
            seq.lines.append(item.start_mark.line + 1)
        return seq
    return _scalar(loader, node, path)


def _scalar(loader, node, path: str) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise PolicyError(path, node.start_mark.line + 1, "a name or value was expected here")
    try:
        return loader.construct_object(node, deep=True)
    except (ValueError, yaml.constructor.ConstructorError) as e:
        # e.g. 2025-13-01 looks like a date to YAML but is none
        raise PolicyError(path, node.start_mark.line + 1, f"{node.value!r} is not a valid value: {e}") from None
