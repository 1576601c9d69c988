"""docs/events.md and the services' events.py declare the same events: every
declared event type and version is documented, every documented one is
declared, and each producer's documented fields are its schemas' fields."""
import importlib
import os
import re

from services.common.config import SERVICES

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SECTION = re.compile(r"^## (\w+)\.events\s*$", re.M)
HEADING_EVENT = re.compile(r"`(\w+)` v(\d+)")
TABLE_FIELD = re.compile(r"`(\w+)`")


def documented(text=None):
    """{producer: ({(event_type, version)}, {field names in its tables})}."""
    text = text if text is not None else open(os.path.join(ROOT, "docs", "events.md")).read()
    found = {}
    sections = list(SECTION.finditer(text))
    for match, following in zip(sections, sections[1:] + [None]):
        body = text[match.end(): following.start() if following else len(text)]
        body = re.split(r"^## ", body, flags=re.M)[0]  # up to the next top-level section
        events = {(name, int(v)) for line in body.splitlines() if line.startswith("### ")
                  for name, v in HEADING_EVENT.findall(line)}
        fields = {name for line in body.splitlines() if line.startswith("| `")
                  for name in TABLE_FIELD.findall(line.split("|")[1])}
        found[match.group(1)] = (events, fields)
    return found


def declared():
    found = {}
    for service in SERVICES:
        published = importlib.import_module("services.{}.events".format(service)).PUBLISHED
        contracts = list(published)
        if contracts:
            found[service] = ({(c.event_type, c.version) for c in contracts},
                              {name for c in contracts for name in c.schema().fields})
    return found


def test_every_declared_event_is_documented_and_every_documented_one_declared():
    docs, code = documented(), declared()
    assert {p: e for p, (e, _) in docs.items()} == {p: e for p, (e, _) in code.items()}


def test_documented_fields_are_the_declared_fields():
    docs, code = documented(), declared()
    for producer, (_, fields) in code.items():
        assert docs[producer][1] == fields, producer


def test_the_parser_reads_headings_and_tables():
    text = ("## shop.events\n\n| field | type |\n|---|---|\n| `id`, `sku` | UUID |\n\n"
            "### `order_placed` v1, `order_paid` v2\n\n## Who follows what\n\n### `not_an_event` v9\n")
    assert documented(text) == {"shop": ({("order_placed", 1), ("order_paid", 2)}, {"id", "sku"})}
