"""The one YAML reader of pairsim (recipes, ``key=value`` overrides): YAML 1.2 core schema, bounded, no duplicates.

PyYAML implements YAML 1.1, where ``010`` is octal 8, ``1:00`` is sexagesimal 60, ``yes`` / ``no`` / ``on`` /
``off`` are booleans and ``2024-01-02`` is a date. A recipe or an override then means something else than it
says (``train.epochs=010`` ran 8 epochs). :func:`load_yaml` reads the YAML 1.2 core schema instead:

* null: ``~``, ``null``, ``Null``, ``NULL`` or nothing; booleans: ``true`` / ``false`` (also ``True``, ``TRUE``,
  ...); ``yes``, ``no``, ``on``, ``off`` are strings (a boolean field then names its valid values);
* integers: ``10``, ``-3``, ``0o17`` (octal), ``0x1F`` (hex); a decimal with a leading zero (``010``) is
  refused, since YAML 1.1 tools read it as octal and YAML 1.2 tools as decimal: write ``10`` or ``0o10``
  (quote it, ``'010'``, for a string);
* floats: ``0.5``, ``1e-3``, ``1e3`` (a float: an integer field refuses it), ``.inf``, ``.nan``;
* everything else is a string (``1:00``, ``1_000``, ``0b101``, dates).

The document is also bounded, so a small file cannot cost gigabytes: a key twice in one mapping (at any level)
is an error naming both lines (YAML 1.1 tools silently keep the second block); aliases may repeat a node, but
the document expanded through them holds at most :data:`MAX_NODES` values and nests at most :data:`MAX_DEPTH`
levels (the "billion laughs" recipe is refused before anything is built); an alias to a node that contains
it is refused. The shipped recipes use no aliases; a few shared blocks stay possible.

Explicit tags are refused (``!!int 1_000``, ``!!float 1:30``, ``!!python/...``: PyYAML reads a tagged value by
YAML 1.1's rules), except ``!!str``, which only says "a string".

Example:
    >>> load_yaml("epochs: 10\\nlr: 1e-3\\nflag: yes\\nclock: 1:00\\nmask: 0o17")
    {'epochs': 10, 'lr': 0.001, 'flag': 'yes', 'clock': '1:00', 'mask': 15}
    >>> load_yaml("epochs: 010")  # doctest: +IGNORE_EXCEPTION_DETAIL
    Traceback (most recent call last):
    ...
    pairsim.yaml_core.YAMLRefused: 010 is ambiguous ...
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from pairsim.errors import shown

MAX_NODES = 100_000  # values in a document after expanding its aliases (the largest shipped recipe has ~120)
MAX_DEPTH = 64  # nesting levels of a document (shipped recipes: 4)


class YAMLRefused(yaml.constructor.ConstructorError):
    """A document pairsim refuses although it is valid YAML: an ambiguous number, a duplicate key, an alias bomb."""

    def __init__(self, problem: str, mark: yaml.Mark | None) -> None:
        super().__init__(None, None, problem, mark)


class CoreLoader(yaml.SafeLoader):
    """PyYAML's safe loader (no code, no Python objects) with the YAML 1.2 core schema and duplicate keys refused."""

    yaml_implicit_resolvers: ClassVar[dict[str, list[tuple[str, re.Pattern[str]]]]] = {}  # none of YAML 1.1's

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        """A mapping, refusing a key that occurs twice (naming the key and both lines)."""
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader names it below
                continue
            seen[key] = line
            if first is not None:
                raise YAMLRefused(
                    f"duplicate key {shown(key)} (lines {first} and {line}): each key may appear once per mapping, "
                    "merge the two blocks",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)

    def compose_node(self, parent: Node | None, index: Any) -> Node:
        """A node, refusing an explicit tag other than ``!!str`` (``!!int 1_000``, ``!!float 1:30``,
        ``!!python/...``): PyYAML reads a tagged scalar by YAML 1.1's rules, not the core schema's."""
        event = self.peek_event()
        tag = getattr(event, "tag", None)
        if tag is not None and tag != "tag:yaml.org,2002:str":
            shown_tag = tag.replace("tag:yaml.org,2002:", "!!")
            raise YAMLRefused(
                f"explicit tag {shown_tag} refused: write the plain value (read by the YAML 1.2 core schema), "
                "or !!str / quotes for a string",
                event.start_mark,
            )
        return super().compose_node(parent, index)

    def construct_core_int(self, node: Node) -> int:
        """``[-+]digits``, ``0o`` octal or ``0x`` hex; a decimal with a leading zero is refused as ambiguous."""
        text = self.construct_scalar(node)
        digits = text.lstrip("+-")
        if not re.fullmatch(r"[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", digits, re.ASCII) or len(text) - len(digits) > 1:
            raise YAMLRefused(f"{text} is not a YAML 1.2 integer (digits, 0o octal or 0x hex)", node.start_mark)
        if digits[:2] in ("0o", "0x"):
            value = int(digits[2:], 8 if digits[1] == "o" else 16)
            return -value if text.startswith("-") else value
        if len(digits) > 1 and digits[0] == "0":
            plain = text[0] * (text[0] == "-") + (digits.lstrip("0") or "0")
            raise YAMLRefused(
                f"{text} is ambiguous (YAML 1.1 reads it as octal, YAML 1.2 as decimal): write {plain} or "
                f"0o{digits.lstrip('0') or '0'}, or quote it ('{text}') for a string",
                node.start_mark,
            )
        try:
            return int(text)
        except ValueError:  # more digits than Python converts (4300)
            raise YAMLRefused(f"integer of {len(digits)} digits is too long", node.start_mark) from None


class CoreDumper(yaml.SafeDumper):
    """PyYAML's safe dumper quoting every string that YAML 1.1 or the YAML 1.2 core schema would read as another
    type (``'yes'``, ``'010'``, ``'0o17'``), so what pairsim writes reads back the same everywhere."""


_FLOAT = r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)"
for _tag, _pattern, _first in (  # the YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution)
    ("null", r"~|null|Null|NULL|", ["~", "n", "N", ""]),
    ("bool", r"true|True|TRUE|false|False|FALSE", list("tTfF")),
    ("int", r"[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+", list("-+0123456789")),  # before float: "10" is an int
    ("float", _FLOAT, list("-+0123456789.")),
):
    CoreLoader.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(f"^(?:{_pattern})$"), _first)
    CoreDumper.add_implicit_resolver(f"tag:yaml.org,2002:{_tag}", re.compile(f"^(?:{_pattern})$"), _first)
CoreLoader.add_constructor("tag:yaml.org,2002:int", CoreLoader.construct_core_int)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [n for pair in node.value for n in pair]
    return []


def check_size(root: Node, *, max_nodes: int = MAX_NODES, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a composed document that expands (through aliases) past ``max_nodes`` values or ``max_depth`` levels.

    Each distinct node is visited once (a repeated alias costs a lookup), so the check is linear in the file.

    Raises:
        YAMLRefused: Too many values, too deep, or an alias inside the node it names.
    """
    size: dict[int, int] = {}  # id(node) -> values in it, aliases expanded
    depth: dict[int, int] = {}
    open_nodes: set[int] = set()  # entered, not finished: the current path from the root
    stack: list[tuple[Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            open_nodes.discard(key)
            children = _children(node)
            size[key] = 1 + sum(size[id(c)] for c in children)
            depth[key] = 1 + max((depth[id(c)] for c in children), default=0)
            if size[key] > max_nodes:
                raise YAMLRefused(
                    f"the document expands to more than {max_nodes} values (aliases repeating aliases?)",
                    node.start_mark,
                )
            if depth[key] > max_depth:
                raise YAMLRefused(f"the document nests more than {max_depth} levels deep", node.start_mark)
            continue
        if key in size:
            continue
        if key in open_nodes:
            raise YAMLRefused("an alias refers to a node that contains it (a recursive document)", node.start_mark)
        open_nodes.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in size)


def dump_yaml(data: Any) -> str:
    """``data`` as YAML (keys in their order) that :func:`load_yaml` and YAML 1.1 readers read back the same."""
    return yaml.dump(data, Dumper=CoreDumper, sort_keys=False, allow_unicode=True)


def load_yaml(text: str) -> Any:
    """Parse one YAML document safely with the YAML 1.2 core schema, bounded (see the module docstring).

    Args:
        text: The document.

    Returns:
        Plain data (dicts, lists, strings, ints, floats, booleans, None).

    Raises:
        yaml.YAMLError: Invalid YAML; :class:`YAMLRefused` (a subclass) for what pairsim refuses on purpose.
    """
    loader = CoreLoader(text)
    try:
        try:
            node = loader.get_single_node()
        except RecursionError:  # PyYAML composes recursively
            raise YAMLRefused(f"the document nests more than {MAX_DEPTH} levels deep", None) from None
        if node is None:
            return None
        check_size(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()
