"""Fixture files checked before a run: JSON errors, schema errors and the rules beyond the schema,
each reported as file:line:col: $.path: message naming the field's own expectation."""

import json
import tempfile
import unittest
from pathlib import Path

from tests.fixture_schema_sample import SCHEMA
from vsc import fixture_check
from vsc.fixture_json import JsonError, parse
from vsc.fixture_schema import Schema, SchemaError

GOOD = """{
  "format": "vsockcheck-fixture/1",
  "name": "handshake",
  "description": "REQUEST answered by RESPONSE",
  "target": "both",
  "connections": {"c": {"kernel_port": 1234, "engine_port": 5001}},
  "steps": [
    {"agent": {"do": "listen", "backlog": 1}},
    {"send": {"conn": "c", "op": "REQUEST"}},
    {"expect": {"conn": "c", "op": "RESPONSE", "fwd_cnt": 0}, "within_ms": 2000}
  ]
}
"""

LEGACY = """[
 {"_description": ["A REQUEST to a port without a listener ", "is answered by RST"],
  "op": "send", "hdr": {"src_cid": "MY_CID", "op": "VIRTIO_VSOCK_OP_REQUEST"}},
 {"op": "receive", "hdr": {"op": "VIRTIO_VSOCK_OP_RST"}}
]
"""


def at(text: str, needle: str, nth: int = 1) -> str:
    """line:col of the nth occurrence of needle in text: where the checker must point."""
    pos = -1
    for _ in range(nth):
        pos = text.index(needle, pos + 1)
    line = text.count("\n", 0, pos) + 1
    return f"{line}:{pos - (text.rfind(chr(10), 0, pos) + 1) + 1}"


class FixtureFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.schema = Schema(SCHEMA, "sample")

    def inspect(self, text: str, name: str = "handshake") -> fixture_check.FixtureFile:
        path = Path(self.tmp.name) / "connect" / f"{name}.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return fixture_check.inspect(path, self.schema)

    def error(self, text: str, name: str = "handshake") -> str:
        """The one problem of a broken copy, without the directory part of the file name."""
        errors = self.inspect(text, name).errors
        self.assertEqual(len(errors), 1, errors)
        return errors[0].replace(self.tmp.name + "/", "")

    def test_good_file_names_its_fixture_and_target(self):
        checked = self.inspect(GOOD)
        self.assertEqual(checked.errors, [])
        self.assertEqual((checked.name, checked.target, checked.targets),
                         ("handshake", "both", ("virtio_transport", "vhost_vsock")))

    def test_unknown_op_name(self):
        text = GOOD.replace('"op": "REQUEST"', '"op": "RSTX"')
        self.assertEqual(self.error(text),
                         f'connect/handshake.json:{at(text, chr(34) + "RSTX")}: $.steps[1].send.op: unknown op '
                         '"RSTX" (one of REQUEST, RESPONSE, RST, SHUTDOWN, RW, CREDIT_UPDATE, CREDIT_REQUEST, '
                         'or a number)')

    def test_unknown_field_is_named_at_its_key(self):
        text = GOOD.replace('"within_ms"', '"whitin_ms"')
        self.assertEqual(self.error(text), f'connect/handshake.json:{at(text, chr(34) + "whitin_ms")}: '
                                           '$.steps[2].whitin_ms: unknown field "whitin_ms"')

    def test_wrong_type(self):
        text = GOOD.replace('"backlog": 1', '"backlog": "1"')
        self.assertEqual(self.error(text), f'connect/handshake.json:{at(text, chr(34) + "1")}: '
                                           '$.steps[0].agent.backlog: an integer expected, got the string "1"')

    def test_too_wide_for_a_sent_field(self):
        text = GOOD.replace('"op": "REQUEST"', '"op": "REQUEST", "fwd_cnt": 4294967296')
        self.assertEqual(self.error(text), f"connect/handshake.json:{at(text, '4294967296')}: "
                                           "$.steps[1].send.fwd_cnt: 4294967296 is wider than fwd_cnt "
                                           "(at most 0xffffffff, 32 bits)")

    def test_too_wide_hex_string(self):
        self.assertIn("0x100000000 is wider than fwd_cnt",
                      self.error(GOOD.replace('"op": "REQUEST"', '"op": "REQUEST", "fwd_cnt": "0x100000000"')))

    def test_too_wide_for_a_matched_field(self):
        # Matchers share one schema for every header field: the field's own width still applies.
        text = GOOD.replace('"fwd_cnt": 0', '"fwd_cnt": {"one_of": [1, 4294967296]}')
        self.assertEqual(self.error(text), f"connect/handshake.json:{at(text, '4294967296')}: "
                                           "$.steps[2].expect.fwd_cnt.one_of[1]: 4294967296 is wider than "
                                           "fwd_cnt (at most 0xffffffff, 32 bits)")

    def test_duplicate_key(self):
        text = GOOD.replace('"op": "REQUEST"', '"op": "REQUEST", "op": "RW"')
        self.assertEqual(self.error(text), f'connect/handshake.json:{at(text, chr(34) + "op", 2)}: '
                                           '$.steps[1].send: duplicate key "op"')

    def test_json_syntax_error_position(self):
        text = GOOD.replace('"op": "REQUEST"}}', '"op": "REQUEST"}')
        self.assertEqual(self.error(text), f'connect/handshake.json:{at(text, chr(123) + chr(34) + "expect")}: '
                                           '$.steps[1]: a "key" in double quotes expected')

    def test_step_without_a_kind_and_with_two(self):
        text = GOOD.replace('{"send": {"conn": "c", "op": "REQUEST"}}', '{"note": "x"}')
        self.assertEqual(self.error(text), f'connect/handshake.json:{at(text, chr(123) + chr(34) + "note")}: '
                                           '$.steps[1]: one of the keys "send", "expect", "agent" expected')
        self.assertIn('"send" and "expect" cannot go together',
                      self.error(GOOD.replace('{"send": {"conn": "c", "op": "REQUEST"}}',
                                              '{"send": {"op": "RW"}, "expect": {}}')))

    def test_name_must_be_the_file_stem(self):
        self.assertEqual(self.error(GOOD, name="other"), f'connect/other.json:{at(GOOD, chr(34) + "handshake")}: '
                                                         '$.name: "handshake" differs from the file name "other.json"')

    def test_connection_must_exist(self):
        text = GOOD.replace('{"conn": "c", "op": "REQUEST"}', '{"conn": "d", "op": "RW"}')
        self.assertEqual(self.error(text), f'connect/handshake.json:{at(text, chr(34) + "d" + chr(34))}: '
                                           '$.steps[1].send.conn: no connection "d" in $.connections (known: c)')

    def test_by_kernel_rows_go_up(self):
        text = GOOD.replace('"fwd_cnt": 0', '"fwd_cnt": {"by_kernel": [{"from": "6.3", "is": 0}, '
                                            '{"from": "5.10", "is": 1}]}')
        self.assertIn('$.steps[2].expect.fwd_cnt.by_kernel[1].from: "5.10" does not come after the row before',
                      self.error(text))

    def test_several_problems_are_all_reported_in_file_order(self):
        text = GOOD.replace('"within_ms"', '"whitin_ms"').replace('"backlog": 1', '"backlog": -1')
        errors = self.inspect(text).errors
        self.assertEqual([e.split(": ", 1)[1] for e in errors],
                         ["$.steps[0].agent.backlog: -1 is below the minimum 0",
                          '$.steps[2].whitin_ms: unknown field "whitin_ms"'])

    def test_qemu_legacy_array_is_accepted_under_its_own_name(self):
        checked = self.inspect(LEGACY, name="rst-no-listener")
        self.assertEqual(checked.errors, [])
        self.assertEqual((checked.name, checked.target, checked.legacy),
                         ("qemu_rst_no_listener", "vhost_vsock", True))

    def test_unreadable_and_non_utf8_files(self):
        path = Path(self.tmp.name) / "x" / "latin.json"
        path.parent.mkdir()
        path.write_bytes(b'{"name": "\xe9"}')
        self.assertIn("not UTF-8", fixture_check.inspect(path, self.schema).errors[0])
        self.assertIn("cannot read it", fixture_check.inspect(path.with_name("gone.json"), self.schema).errors[0])


class JsonPositions(unittest.TestCase):
    def test_every_value_keeps_line_and_column(self):
        root = parse('{\n  "a": [1,\n   {"b": "x"}]}')
        item = root.value["a"].value[1]
        self.assertEqual((item.line, item.col), (3, 4))
        self.assertEqual((item.value["b"].line, item.value["b"].col, item.value["b"].key_col), (3, 10, 5))
        self.assertEqual(root.plain(), {"a": [1, {"b": "x"}]})

    def test_syntax_errors(self):
        cases = {'{"a": 1,}': (1, 9, '$', 'a "key" in double quotes expected'),
                 '{"a": "open': (1, 7, "$.a", "a string that never ends"),
                 '[1] 2': (1, 5, "$", "text after the JSON value"),
                 '{"a": tru}': (1, 7, "$.a", "a JSON value expected, not 't'"),
                 '': (1, 1, "$", "end of file where a JSON value was expected"),
                 '"\x01"': (1, 2, "$", "bad string: Invalid control character at")}
        for text, (line, col, path, message) in cases.items():
            with self.subTest(text=text):
                with self.assertRaises(JsonError) as caught:
                    parse(text)
                self.assertEqual((caught.exception.line, caught.exception.col, caught.exception.path),
                                 (line, col, path))
                self.assertTrue(caught.exception.message.startswith(message), caught.exception.message)

    def test_numbers_keep_their_kind(self):
        self.assertEqual(parse("[18446744073709551616, 1.5, -0, true, null]").plain(),
                         [18446744073709551616, 1.5, 0, True, None])


class SchemaKeywords(unittest.TestCase):
    def test_a_keyword_the_checker_does_not_know_is_refused(self):
        with self.assertRaises(SchemaError) as caught:
            Schema({"$defs": {"x": {"type": "object", "if": {}}}}, "s.json")
        self.assertIn('#/$defs/x: keyword "if"', str(caught.exception))

    def test_dangling_reference_is_refused(self):
        with self.assertRaises(SchemaError):
            Schema({"oneOf": [{"$ref": "#/$defs/missing"}]}, "s.json")


class RealFixtures(unittest.TestCase):
    """The repository's own fixtures and schema, once they exist."""

    def test_every_fixture_in_the_repository_passes(self):
        if not fixture_check.SCHEMA_PATH.exists():
            self.skipTest(f"{fixture_check.SCHEMA_PATH} is not there yet")
        paths = fixture_check.discover()
        if not paths:
            self.skipTest(f"no fixture files under {fixture_check.FIXTURES_DIR}")
        problems = [e for p in paths for e in fixture_check.check(p)]
        self.assertEqual(problems, [])

    def test_the_schema_is_one_the_checker_reads(self):
        if not fixture_check.SCHEMA_PATH.exists():
            self.skipTest(f"{fixture_check.SCHEMA_PATH} is not there yet")
        Schema(json.loads(fixture_check.SCHEMA_PATH.read_text()), str(fixture_check.SCHEMA_PATH))


if __name__ == "__main__":
    unittest.main()


HV_GOOD = """{
  "format": "vsockcheck-fixture/1",
  "name": "hv",
  "description": "target hv_sock: a host packet, the guest reads it",
  "target": "hv_sock",
  "connections": {"c": {"engine_port": 7001, "kernel_port": 6001, "setup": "kernel_listens"}},
  "steps": [
    {"send": {"conn": "c", "payload": "abc", "flags": 0}},
    {"agent": {"do": "recv", "sock": "c", "len": 3, "result": {"data": "abc"}}},
    {"expect_none": {"conn": "c"}, "for_ms": 100},
    {"rescind": {"conn": "c"}},
    {"expect_event": {"conn": "c", "event": "guest_closed"}}
  ]
}
"""


class HvSockFiles(unittest.TestCase):
    """Target hv_sock against the real schema (testcases/fixtures/schema.json)."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def inspect(self, text: str) -> fixture_check.FixtureFile:
        path = Path(self.tmp.name) / "hv_sock" / "hv.json"
        path.parent.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return fixture_check.inspect(path)

    def test_good_file_runs_on_engine_3_only(self):
        checked = self.inspect(HV_GOOD)
        self.assertEqual(checked.errors, [])
        self.assertEqual(checked.targets, ("hv_sock",))

    def test_hv_fields_have_their_own_widths(self):
        # flags is 16 bits in a vmpacket_descriptor (32 in a virtio header).
        errors = self.inspect(HV_GOOD.replace('"flags": 0', '"flags": 65536')).errors
        self.assertEqual(len(errors), 1, errors)
        self.assertIn("$.steps[0].send.flags: 65536 is wider than flags (at most 0xffff, 16 bits)", errors[0])

    def test_virtio_keys_are_refused(self):
        errors = self.inspect(HV_GOOD.replace('"flags": 0', '"op": "RW"')).errors
        self.assertTrue(errors and "$.steps[0]" in errors[0], errors)
