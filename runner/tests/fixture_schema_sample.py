"""A small schema in the shape of testcases/fixtures/schema.json (format 1 or a QEMU array), for
the checker's tests: they must not change when the real schema grows."""

U16 = {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 65535},
                 {"type": "string", "pattern": "^0x[0-9a-fA-F]{1,4}$"}]}
U32 = {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 4294967295},
                 {"type": "string", "pattern": "^0x[0-9a-fA-F]{1,8}$"}]}
U64 = {"oneOf": [{"type": "integer", "minimum": 0, "maximum": 18446744073709551615},
                 {"type": "string", "pattern": "^0x[0-9a-fA-F]{1,16}$"}]}
NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}

SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "oneOf": [{"$ref": "#/$defs/fixture"}, {"$ref": "#/$defs/qemu_legacy"}],
    "$defs": {
        "u16": U16, "u32": U32, "u64": U64,
        "ref": {"type": "string", "pattern": "^\\$[a-z][a-z0-9_]*(\\.port)?$"},
        "op_value": {"oneOf": [{"enum": ["REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW", "CREDIT_UPDATE",
                                         "CREDIT_REQUEST"]}, {"$ref": "#/$defs/u16"}]},
        "matcher": {"oneOf": [
            {"$ref": "#/$defs/u64"}, {"$ref": "#/$defs/ref"},
            {"enum": ["any", "REQUEST", "RESPONSE", "RST", "SHUTDOWN", "RW", "CREDIT_UPDATE", "CREDIT_REQUEST"]},
            {"type": "object", "additionalProperties": False, "required": ["one_of"],
             "properties": {"one_of": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/matcher"}}}},
            {"type": "object", "additionalProperties": False, "required": ["by_kernel"],
             "properties": {"by_kernel": {"type": "array", "minItems": 1, "items": {
                 "type": "object", "additionalProperties": False, "required": ["from", "is"],
                 "properties": {"from": {"type": "string", "pattern": "^[0-9]+\\.[0-9]+(\\.[0-9]+)?$"},
                                "is": {"$ref": "#/$defs/matcher"}}}}}}]},
        "fixture": {
            "type": "object", "additionalProperties": False,
            "required": ["format", "name", "description", "target", "steps"],
            "properties": {
                "format": {"const": "vsockcheck-fixture/1"},
                "name": NAME,
                "description": {"type": "string", "minLength": 1},
                "target": {"enum": ["virtio_transport", "vhost_vsock", "both"]},
                "connections": {"type": "object", "propertyNames": NAME, "additionalProperties": {
                    "type": "object", "additionalProperties": False,
                    "properties": {"kernel_port": {"$ref": "#/$defs/u32"}, "engine_port": {"$ref": "#/$defs/u32"}}}},
                "ignore": {"type": "array", "items": {"$ref": "#/$defs/packet_match"}},
                "steps": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/step"}}}},
        "packet_send": {"type": "object", "additionalProperties": False, "required": ["op"], "properties": {
            "conn": {"type": "string"}, "op": {"$ref": "#/$defs/op_value"}, "fwd_cnt": {"$ref": "#/$defs/u32"},
            "payload": {"type": "string"}}},
        "packet_match": {"type": "object", "additionalProperties": False, "properties": {
            "conn": {"type": "string"}, "op": {"$ref": "#/$defs/matcher"}, "fwd_cnt": {"$ref": "#/$defs/matcher"},
            "src_port": {"$ref": "#/$defs/matcher"}}},
        "step": {"oneOf": [
            {"type": "object", "additionalProperties": False, "required": ["send"],
             "properties": {"send": {"$ref": "#/$defs/packet_send"}, "note": {"type": "string"}}},
            {"type": "object", "additionalProperties": False, "required": ["expect"],
             "properties": {"expect": {"$ref": "#/$defs/packet_match"}, "note": {"type": "string"},
                            "within_ms": {"type": "integer", "minimum": 0, "maximum": 60000}}},
            {"type": "object", "additionalProperties": False, "required": ["agent"],
             "properties": {"agent": {"type": "object", "additionalProperties": False, "required": ["do"],
                                      "properties": {"do": {"enum": ["listen", "accept", "connect"]},
                                                     "backlog": {"type": "integer", "minimum": 0}}}}}]},
        "qemu_legacy": {"type": "array", "minItems": 1, "items": {
            "type": "object", "additionalProperties": False, "required": ["op"],
            "properties": {"_description": {"type": "array", "items": {"type": "string"}},
                           "op": {"enum": ["send", "receive", "sock-async-connect", "sock-poll"]},
                           "hdr": {"type": "object"}, "sock_id": {"type": "string"},
                           "dst_cid": {}, "dst_port": {}, "poll_events": {}, "poll_so_error": {}}}},
    },
}
