"""services.common.validation: every service's payloads go through it."""
import uuid

import pytest
from marshmallow import Schema, fields

from services.common.errors import BadInput
from services.common.validation import MAX_STRING, load, parse_uuid, parse_uuid_list


class Sample(Schema):
    name = fields.String(required=True)
    tags = fields.List(fields.String())
    meta = fields.Dict()


def test_valid_payload_loads():
    assert load(Sample(), {"name": "x", "tags": ["a"]}) == {"name": "x", "tags": ["a"]}


@pytest.mark.parametrize("payload,field", [
    ({"name": "x" * (MAX_STRING + 1)}, "name"),
    ({"name": "a\x00b"}, "name"),
    ({"name": "ok", "tags": ["fine", "bad\x00"]}, "tags"),
    ({"name": "ok", "meta": {"k\x00": "v"}}, "meta"),
    ({"name": "ok", "meta": {"k": {"deeper": "v\x00"}}}, "meta"),
    ({}, "name"),
    ({"name": 5}, "name"),
])
def test_bad_payload_names_the_field(payload, field):
    with pytest.raises(BadInput) as caught:
        load(Sample(), payload)
    assert field in caught.value.details


def test_non_object_payload_is_refused():
    with pytest.raises(BadInput) as caught:
        load(Sample(), ["name"])
    assert "_schema" in caught.value.details


def test_ids_are_checked():
    good = uuid.uuid4()
    assert parse_uuid(str(good), "id") == good
    with pytest.raises(BadInput) as caught:
        parse_uuid("nope", "lesson_id")
    assert caught.value.details == {"lesson_id": ["Not a valid UUID."]}
    with pytest.raises(BadInput):
        parse_uuid_list("not a list", "ids")
    with pytest.raises(BadInput):
        parse_uuid_list([str(good)] * 501, "ids")
