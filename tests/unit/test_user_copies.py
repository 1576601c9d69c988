"""Learning's guard against user versions from the far future
(services/learning/user_copies.py; docs/events.md, "How our consumers
handle failure"): pure checks, no database."""
import uuid

import pytest
from marshmallow import ValidationError

from services.learning.user_copies import MAX_VERSION, MAX_VERSION_JUMP, UserSnapshot, implausible_version


@pytest.mark.parametrize("held, version", [
    (None, 1), (None, MAX_VERSION_JUMP), (1, 1 + MAX_VERSION_JUMP), (7, 3), (MAX_VERSION, 2)])
def test_plausible_versions(held, version):
    assert implausible_version(held, version) is None


@pytest.mark.parametrize("held, version", [
    (None, MAX_VERSION_JUMP + 1), (1, 2 + MAX_VERSION_JUMP), (1, MAX_VERSION)])
def test_versions_too_far_ahead(held, version):
    problem = implausible_version(held, version)
    assert "MAX_VERSION_JUMP" in problem and str(version) in problem


def test_a_version_beyond_the_column_is_refused_by_the_schema():
    snap = {"user_id": str(uuid.uuid4()), "email": "a@example.com", "first_name": "A", "last_name": "B",
            "role": "student", "status": "active", "version": MAX_VERSION}
    assert UserSnapshot().load(snap)["version"] == MAX_VERSION
    with pytest.raises(ValidationError):
        UserSnapshot().load(dict(snap, version=MAX_VERSION + 1))
