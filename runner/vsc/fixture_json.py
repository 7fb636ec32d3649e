"""A JSON parser for fixture files that keeps the line and column of every value and refuses
duplicate keys (Python's json module, like json-c, keeps the last one silently)."""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass


@dataclass
class Node:
    """One parsed value: dict of Node, list of Node, str, int, float, bool or None, and where it
    starts (1-based). An object member also knows where its key starts."""

    value: object
    line: int
    col: int
    key_line: int = 0
    key_col: int = 0

    def plain(self) -> object:
        """The value as plain Python data (dict, list, scalars)."""
        if isinstance(self.value, dict):
            return {k: n.plain() for k, n in self.value.items()}
        if isinstance(self.value, list):
            return [n.plain() for n in self.value]
        return self.value


class JsonError(Exception):
    """A syntax error: where, the path of the value being read, and what was expected."""

    def __init__(self, line: int, col: int, path: str, message: str):
        super().__init__(f"{line}:{col}: {path}: {message}")
        self.line, self.col, self.path, self.message = line, col, path, message


_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_WORDS = (("true", True), ("false", False), ("null", None))
_SPACE = " \t\r\n"


def key_path(path: str, key: str) -> str:
    """$.a.b for plain keys, $.a["odd key"] for others, as the C side names paths."""
    if re.fullmatch(r"[A-Za-z_$][A-Za-z0-9_$]*", key):
        return f"{path}.{key}"
    return f"{path}[{json.dumps(key)}]"


class _Parser:
    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(self, pos: int | None = None) -> tuple[int, int]:
        pos = self.pos if pos is None else pos
        line = bisect.bisect_right(self.line_starts, pos)
        return line, pos - self.line_starts[line - 1] + 1

    def fail(self, path: str, message: str, pos: int | None = None):
        raise JsonError(*self.where(pos), path, message)

    def skip_space(self) -> None:
        while self.pos < len(self.text) and self.text[self.pos] in _SPACE:
            self.pos += 1

    def document(self) -> Node:
        if self.text.startswith("\ufeff"):
            self.fail("$", "a byte order mark before the JSON value; save the file as plain UTF-8")
        node = self.value("$")
        self.skip_space()
        if self.pos != len(self.text):
            self.fail("$", "text after the JSON value")
        return node

    def value(self, path: str) -> Node:
        self.skip_space()
        line, col = self.where()
        ch = self.text[self.pos:self.pos + 1]
        if ch == "{":
            return Node(self.object(path), line, col)
        if ch == "[":
            return Node(self.array(path), line, col)
        if ch == '"':
            return Node(self.string(path), line, col)
        for word, val in _WORDS:
            if self.text.startswith(word, self.pos):
                self.pos += len(word)
                return Node(val, line, col)
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            self.fail(path, "end of file where a JSON value was expected" if not ch
                      else f"a JSON value expected, not {ch!r}")
        self.pos = match.end()
        text = match.group(0)
        return Node(float(text) if match.group(2) or match.group(3) else int(text), line, col)

    def string(self, path: str) -> str:
        start = self.pos
        end = start + 1
        while True:
            end = self.text.find('"', end)
            if end < 0:
                self.fail(path, "a string that never ends", start)
            backslashes = end - len(self.text[:end].rstrip("\\"))
            if backslashes % 2 == 0:
                break
            end += 1
        try:
            text = json.loads(self.text[start:end + 1])
        except json.JSONDecodeError as e:
            self.fail(path, f"bad string: {e.msg}", start + e.pos)
        self.pos = end + 1
        return text

    def object(self, path: str) -> dict:
        self.pos += 1
        members: dict[str, Node] = {}
        self.skip_space()
        if self.text.startswith("}", self.pos):
            self.pos += 1
            return members
        while True:
            self.skip_space()
            if not self.text.startswith('"', self.pos):
                self.fail(path, 'a "key" in double quotes expected')
            key_start = self.pos
            key = self.string(path)
            if key in members:
                self.fail(path, f'duplicate key "{key}"', key_start)
            self.skip_space()
            if not self.text.startswith(":", self.pos):
                self.fail(key_path(path, key), '":" expected after the key')
            self.pos += 1
            node = self.value(key_path(path, key))
            node.key_line, node.key_col = self.where(key_start)
            members[key] = node
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith("}", self.pos):
                self.pos += 1
                return members
            else:
                self.fail(path, '"," or "}" expected')

    def array(self, path: str) -> list:
        self.pos += 1
        items: list[Node] = []
        self.skip_space()
        if self.text.startswith("]", self.pos):
            self.pos += 1
            return items
        while True:
            items.append(self.value(f"{path}[{len(items)}]"))
            self.skip_space()
            if self.text.startswith(",", self.pos):
                self.pos += 1
            elif self.text.startswith("]", self.pos):
                self.pos += 1
                return items
            else:
                self.fail(path, '"," or "]" expected')


def parse(text: str) -> Node:
    """The document's root Node; JsonError at the first syntax error or duplicate key."""
    return _Parser(text).document()
