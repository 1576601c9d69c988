"""services.common.validation: every service's payloads go through it."""
import uuid

import pytest
from marshmallow import Schema, fields

from services.common.errors import BadInput
from services.common.validation import MAX_STRING, load, parse_uuid, parse_uuid_list
from services.learning.schemas import BookLessonSchema, TutorProfileSchema


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
    ({"name": "lone \ud800 surrogate"}, "name"),
    ({"name": "ok", "tags": ["\udfff"]}, "tags"),
    ({"name": "ok", "meta": {"\ud800": 1}}, "meta"),
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


def test_deep_nesting_is_refused_without_recursion():
    deep = "leaf"
    for _ in range(5000):
        deep = {"k": [deep]}
    with pytest.raises(BadInput) as caught:
        load(Sample(), {"name": "ok", "meta": deep})
    assert caught.value.details == {"meta": ["Nested more than 32 levels deep."]}


@pytest.mark.parametrize("value", ["9999-12-31T23:30:00Z", "0001-01-01T00:30:00+01:00", "1999-12-31T23:59:59Z"])
def test_times_out_of_range_are_bad_input(value):
    with pytest.raises(BadInput) as caught:
        load(BookLessonSchema(), {"course_id": str(uuid.uuid4()), "scheduled_at": value})
    assert list(caught.value.details) == ["scheduled_at"]


def test_a_time_with_an_offset_loads_as_utc():
    loaded = load(BookLessonSchema(), {"course_id": str(uuid.uuid4()), "scheduled_at": "2031-01-06T10:00:00+01:00"})
    assert loaded["scheduled_at"].isoformat() == "2031-01-06T09:00:00+00:00"


@pytest.mark.parametrize("payload", [{"currency": "USD\n"}, {"languages": ["en\nfr"]}, {"subjects": ["  "]}])
def test_codes_with_a_newline_and_blank_items_are_refused(payload):
    full = dict({"hourly_rate": 3000, "subjects": ["maths"], "languages": ["en"]}, **payload)
    with pytest.raises(BadInput) as caught:
        load(TutorProfileSchema(), full)
    assert set(caught.value.details) == set(payload)


def test_list_items_are_trimmed_and_repeats_dropped():
    loaded = load(TutorProfileSchema(), {"hourly_rate": 3000, "subjects": [" maths ", "Physics", "MATHS", "physics\n"],
                                         "languages": ["en\n", " pt-br", "EN"]})
    assert loaded["subjects"] == ["maths", "physics"]  # folded (services/learning/subjects.py)
    assert loaded["languages"] == ["en", "pt-BR"]


@pytest.mark.parametrize("code", ["eng", "xx", "e", "en-", "en_GBR", "english"])
def test_languages_must_be_iso_639_1(code):
    with pytest.raises(BadInput) as caught:
        load(TutorProfileSchema(), {"hourly_rate": 3000, "subjects": ["maths"], "languages": [code]})
    assert set(caught.value.details) == {"languages"}
