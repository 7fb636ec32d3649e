"""The subset of JSON Schema 2020-12 that testcases/fixtures/schema.json uses, applied to parsed
fixture_json Nodes, with messages that name the field's own expectation rather than the schema's
alternatives (`unknown op "RSTX"`, `4294967296 is wider than fwd_cnt (at most 0xffffffff)`)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from vsc.fixture_json import Node, key_path

# Keywords that only describe: read past them.
_ANNOTATIONS = {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples",
                "deprecated", "readOnly", "writeOnly"}
_CHECKED = {"$ref", "type", "const", "enum", "pattern", "minLength", "maxLength", "minimum", "maximum",
            "minItems", "maxItems", "items", "prefixItems", "required", "properties",
            "additionalProperties", "propertyNames", "minProperties", "maxProperties", "oneOf", "anyOf"}
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_TYPE_NAMES = {"object": "an object", "array": "an array", "string": "a string", "integer": "an integer",
               "number": "a number", "boolean": "true or false", "null": "null"}


class SchemaError(Exception):
    """The schema itself is unreadable or uses what this interpreter does not know."""


@dataclass(frozen=True)
class Problem:
    line: int
    col: int
    path: str
    message: str


def json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {dict: "object", list: "array", str: "string", float: "number", type(None): "null"}[type(value)]


def _fits_type(value: object, wanted: str) -> bool:
    actual = json_type(value)
    return actual == wanted or (wanted == "number" and actual == "integer")


def describe(value: object) -> str:
    """A value as a message names it: a string "x", the number 1.5, an object..."""
    kind = json_type(value)
    if kind == "string":
        return f"the string {json.dumps(value)}"
    if kind in ("integer", "number"):
        return f"the number {value}"
    if kind in ("boolean", "null"):
        return json.dumps(value)
    return _TYPE_NAMES[kind]


def field_name(path: str) -> str:
    """The key a value sits under: $.steps[2].send.op -> op; $.tags[0] -> tags."""
    trimmed = re.sub(r"(\[\d+\])+$", "", path)
    match = re.search(r'\.([^.\[\]]+)$|\["((?:[^"\\]|\\.)*)"\]$', trimmed)
    if not match:
        return "value"
    return match.group(1) if match.group(1) is not None else json.loads(f'"{match.group(2)}"')


def width_message(value: int | str, field: str, maximum: int) -> str | None:
    """`N is wider than field` for a field whose largest value is 2**bits - 1."""
    bits = (maximum + 1).bit_length() - 1
    if maximum + 1 == 1 << bits and bits in (8, 16, 32, 64):
        return f"{value} is wider than {field} (at most 0x{maximum:x}, {bits} bits)"
    return None


class Schema:
    """One schema document; problems(node) lists every place the node breaks it."""

    def __init__(self, document: dict, source: str = "schema"):
        if not isinstance(document, dict):
            raise SchemaError(f"{source}: the schema is not a JSON object")
        self.root = document
        self.source = source
        self._check_keywords(document, "#")

    def _check_keywords(self, schema: object, where: str) -> None:
        """Fails now, naming the keyword, rather than accepting what the schema means to refuse."""
        if isinstance(schema, bool):
            return
        if not isinstance(schema, dict):
            raise SchemaError(f"{self.source}: {where}: a schema object expected")
        for key, sub in schema.items():
            if key not in _CHECKED | _ANNOTATIONS:
                raise SchemaError(f'{self.source}: {where}: keyword "{key}" is not one the fixture '
                                  f"checker interprets (runner/vsc/fixture_schema.py)")
            if key == "$ref":
                self.resolve(sub)
        for key in ("items", "additionalProperties", "propertyNames"):
            if isinstance(schema.get(key), dict):
                self._check_keywords(schema[key], f"{where}/{key}")
        for key in ("oneOf", "anyOf", "prefixItems"):
            for i, sub in enumerate(schema.get(key, [])):
                self._check_keywords(sub, f"{where}/{key}/{i}")
        for key in ("properties", "$defs"):
            for name, sub in schema.get(key, {}).items():
                self._check_keywords(sub, f"{where}/{key}/{name}")

    def resolve(self, ref: str) -> dict:
        if not isinstance(ref, str) or not ref.startswith("#"):
            raise SchemaError(f"{self.source}: $ref {ref!r}: only references inside the schema are read")
        schema: object = self.root
        for part in filter(None, ref[1:].split("/")):
            part = part.replace("~1", "/").replace("~0", "~")
            if not isinstance(schema, dict) or part not in schema:
                raise SchemaError(f"{self.source}: $ref {ref}: no such place in the schema")
            schema = schema[part]
        return schema

    def problems(self, node: Node) -> list[Problem]:
        return sorted(set(self._check(node, self.root, "$")), key=lambda p: (p.line, p.col, p.path))

    # -- one schema object against one node ------------------------------------------------------

    def _check(self, node: Node, schema: dict | bool, path: str) -> list[Problem]:
        if schema is True:
            return []
        if schema is False:
            return [Problem(node.line, node.col, path, "no value is allowed here")]
        found: list[Problem] = []
        if "$ref" in schema:
            found += self._check(node, self.resolve(schema["$ref"]), path)
        value = node.value

        def problem(message: str) -> list[Problem]:
            return [Problem(node.line, node.col, path, message)]

        wanted = schema.get("type")
        if wanted is not None:
            types = wanted if isinstance(wanted, list) else [wanted]
            if not any(_fits_type(value, t) for t in types):
                names = " or ".join(_TYPE_NAMES[t] for t in types)
                return found + problem(f"{names} expected, got {describe(value)}")
        if "const" in schema and not _same(node.plain(), schema["const"]):
            found += problem(f"must be {json.dumps(schema['const'])}, not {describe(value)}")
        if "enum" in schema and not any(_same(node.plain(), e) for e in schema["enum"]):
            found += problem(self._enum_message(value, schema["enum"], path))
        if isinstance(value, str):
            found += self._check_string(node, schema, path)
        if json_type(value) in ("integer", "number"):
            found += self._check_number(node, schema, path)
        if isinstance(value, list):
            found += self._check_array(node, schema, path)
        if isinstance(value, dict):
            found += self._check_object(node, schema, path)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                found += self._check_alternatives(node, schema[key], path, exactly_one=key == "oneOf")
        return found

    @staticmethod
    def _enum_message(value: object, names: list, path: str) -> str:
        listed = ", ".join(str(n) if isinstance(n, str) else json.dumps(n) for n in names)
        if isinstance(value, str) and all(isinstance(n, str) for n in names):
            return f"unknown {field_name(path)} {json.dumps(value)} (one of {listed})"
        return f"one of {listed} expected, got {describe(value)}"

    @staticmethod
    def _check_string(node: Node, schema: dict, path: str) -> list[Problem]:
        value = node.value
        out = []
        if "pattern" in schema and not re.search(schema["pattern"], value):
            out.append(f"{json.dumps(value)} does not match {schema['pattern']}")
        if len(value) < schema.get("minLength", 0):
            out.append("must not be empty" if schema["minLength"] == 1
                       else f"at least {schema['minLength']} characters expected")
        if "maxLength" in schema and len(value) > schema["maxLength"]:
            out.append(f"at most {schema['maxLength']} characters expected")
        return [Problem(node.line, node.col, path, m) for m in out]

    @staticmethod
    def _check_number(node: Node, schema: dict, path: str) -> list[Problem]:
        value = node.value
        out = []
        if "minimum" in schema and value < schema["minimum"]:
            out.append(f"{value} is below the minimum {schema['minimum']}")
        if "maximum" in schema and value > schema["maximum"]:
            out.append(width_message(value, field_name(path), schema["maximum"])
                       or f"{value} is above the maximum {schema['maximum']}")
        return [Problem(node.line, node.col, path, m) for m in out]

    def _check_array(self, node: Node, schema: dict, path: str) -> list[Problem]:
        items = node.value
        out = []
        if len(items) < schema.get("minItems", 0):
            out.append(Problem(node.line, node.col, path, f"at least {schema['minItems']} items expected, "
                                                          f"got {len(items)}"))
        if "maxItems" in schema and len(items) > schema["maxItems"]:
            out.append(Problem(node.line, node.col, path, f"at most {schema['maxItems']} items expected, "
                                                          f"got {len(items)}"))
        prefix = schema.get("prefixItems", [])
        for i, item in enumerate(items):
            sub = prefix[i] if i < len(prefix) else schema.get("items")
            if sub is not None:
                out += self._check(item, sub, f"{path}[{i}]")
        return out

    def _check_object(self, node: Node, schema: dict, path: str) -> list[Problem]:
        members = node.value
        out = []
        for key in schema.get("required", []):
            if key not in members:
                out.append(Problem(node.line, node.col, path, f'missing "{key}"'))
        if len(members) < schema.get("minProperties", 0):
            out.append(Problem(node.line, node.col, path, "must not be empty"))
        if "maxProperties" in schema and len(members) > schema["maxProperties"]:
            out.append(Problem(node.line, node.col, path, f"at most {schema['maxProperties']} keys expected"))
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, member in members.items():
            member_path = key_path(path, key)
            if "propertyNames" in schema:
                out += self._check(Node(key, member.key_line, member.key_col), schema["propertyNames"],
                                   member_path)
            if key in properties:
                out += self._check(member, properties[key], member_path)
            elif extra is False:
                out.append(Problem(member.key_line, member.key_col, member_path, f'unknown field "{key}"'))
            else:
                out += self._check(member, extra, member_path)
        return out

    # -- alternatives: say what the author most likely meant -------------------------------------

    def _check_alternatives(self, node: Node, branches: list, path: str, exactly_one: bool) -> list[Problem]:
        results = [self._check(node, branch, path) for branch in branches]
        matched = sum(not r for r in results)
        if matched == 1 or (matched > 1 and not exactly_one):
            return []
        if matched > 1:
            return [Problem(node.line, node.col, path, f"fits {matched} forms of the schema at once "
                                                       f"(a fault of schema.json, not of the fixture)")]
        value = node.value
        fitting = [i for i, branch in enumerate(branches) if self._type_fits(value, branch)]
        if not fitting:
            kinds = []
            for branch in branches:
                for kind in self._types(branch):
                    if _TYPE_NAMES[kind] not in kinds:
                        kinds.append(_TYPE_NAMES[kind])
            listed = ", ".join(kinds[:-1]) + " or " + kinds[-1] if len(kinds) > 1 else "".join(kinds)
            return [Problem(node.line, node.col, path, f"{listed} expected, got {describe(value)}")]
        if isinstance(value, str):
            special = self._string_alternative(node, [branches[i] for i in fitting], branches, path)
            if special:
                return special
        if len(fitting) > 1 and isinstance(value, dict):
            return self._object_alternative(node, [branches[i] for i in fitting], [results[i] for i in fitting],
                                            path)
        return results[fitting[0]]

    def _object_alternative(self, node: Node, branches: list, results: list, path: str) -> list[Problem]:
        """The form whose required keys the object has, whose fixed values (a "const", such as a
        fixture's target) it holds, and which knows most of its keys."""
        keys = set(node.value)

        def fixed_values_held(properties: dict) -> int:
            held = 0
            for key, member in node.value.items():
                prop = self._flat(properties[key]) if key in properties else {}
                if "const" in prop:
                    held += 1 if _same(member.value, prop["const"]) else -1
            return held

        def score(branch) -> tuple[bool, int, int]:
            schema = self._flat(branch)
            required = set(schema.get("required", []))
            properties = schema.get("properties", {})
            return required <= keys, fixed_values_held(properties), len(keys & set(properties))

        scores = [score(b) for b in branches]
        if not any(s[0] for s in scores):
            firsts = [self._flat(b).get("required", [None])[0] for b in branches]
            if all(firsts):
                listed = ", ".join(f'"{k}"' for k in dict.fromkeys(firsts))
                return [Problem(node.line, node.col, path, f"one of the keys {listed} expected")]
        complete = [i for i, s in enumerate(scores) if s[0]]
        firsts = list(dict.fromkeys(k for i in complete for k in self._flat(branches[i]).get("required", [])[:1]))
        if len(firsts) > 1:
            listed = " and ".join(f'"{k}"' for k in firsts)
            return [Problem(node.line, node.col, path, f"{listed} cannot go together: one of them per object")]
        best = max(range(len(branches)), key=lambda i: scores[i])
        return results[best]

    def _string_alternative(self, node: Node, branches: list, every_branch: list, path: str) -> list[Problem]:
        """A hex string too wide for the field, or a name the field does not know."""
        value = node.value
        if _HEX.fullmatch(value):
            maxima = [m for b in every_branch for m in self._integer_maxima(b)]
            if maxima and int(value, 16) > max(maxima):
                message = width_message(value, field_name(path), max(maxima))
                if message:
                    return [Problem(node.line, node.col, path, message)]
        names = [n for b in branches for n in self._names(b)]
        if names and not value.startswith(("$", "0x")):
            listed = ", ".join(dict.fromkeys(names))
            numbers = any("integer" in self._types(b) for b in every_branch)
            return [Problem(node.line, node.col, path, f"unknown {field_name(path)} {json.dumps(value)} "
                                                       f"(one of {listed}{', or a number' if numbers else ''})")]
        return []

    # -- what a schema can accept, looking through $ref and alternatives -------------------------

    def _flat(self, schema: dict | bool) -> dict:
        while isinstance(schema, dict) and set(schema) - _ANNOTATIONS == {"$ref"}:
            schema = self.resolve(schema["$ref"])
        return schema if isinstance(schema, dict) else {}

    def _forms(self, schema: dict | bool, seen: set | None = None):
        """The schema and, through $ref and oneOf/anyOf, every alternative form it allows."""
        schema = self._flat(schema)
        seen = set() if seen is None else seen
        if id(schema) in seen:  # a form that refers back to itself adds nothing new
            return
        seen.add(id(schema))
        yield schema
        if "$ref" in schema:
            yield from self._forms(self.resolve(schema["$ref"]), seen)
        for key in ("oneOf", "anyOf"):
            for sub in schema.get(key, []):
                yield from self._forms(sub, seen)

    def _types(self, schema: dict | bool) -> list[str]:
        kinds = []
        for form in self._forms(schema):
            wanted = form.get("type")
            if wanted is not None:
                kinds += wanted if isinstance(wanted, list) else [wanted]
            for fixed in form.get("enum", []) + ([form["const"]] if "const" in form else []):
                kinds.append(json_type(fixed))
        return list(dict.fromkeys(kinds))

    def _type_fits(self, value: object, schema: dict | bool) -> bool:
        kinds = self._types(schema)
        return not kinds or any(_fits_type(value, k) for k in kinds)

    def _names(self, schema: dict | bool) -> list[str]:
        names = []
        for form in self._forms(schema):
            names += [n for n in form.get("enum", []) if isinstance(n, str)]
            if isinstance(form.get("const"), str):
                names.append(form["const"])
        return names

    def _integer_maxima(self, schema: dict | bool) -> list[int]:
        return [form["maximum"] for form in self._forms(schema)
                if form.get("type") == "integer" and "maximum" in form]


def _same(value: object, fixed: object) -> bool:
    """JSON equality: 1 is not true, 1 is not "1"."""
    return value == fixed and json_type(value) == json_type(fixed)
