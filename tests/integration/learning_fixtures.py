"""People for learning's tests: identity's user_created event (published as
identity would) makes learning's copy, and a token is signed with the
platform's secret, as identity's login would sign it."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest

from services.common.auth import issue_access_token
from tests.integration.helpers import Db, make_envelope, publish, user_snapshot, wait_for


class Person:
    def __init__(self, user_id, role, token):
        self.user_id, self.role, self.token = user_id, role, token


class People:
    def __init__(self, amqp_uri, learning_db):
        self.amqp_uri, self.db = amqp_uri, learning_db

    def make(self, role, count=1):
        made = []
        for _ in range(count):
            snap = user_snapshot(role=role)
            publish(self.amqp_uri, "identity", make_envelope("user_created", snap))
            made.append(Person(snap["user_id"], role, issue_access_token(snap["user_id"], role, uuid.uuid4())))
        table = "tutors" if role == "tutor" else "students" if role == "student" else None
        if table:
            ids = [p.user_id for p in made]
            wait_for(lambda: self.db.scalar("SELECT count(*) FROM {} WHERE user_id::text = ANY(:ids)".format(table),
                                            ids=ids) == len(ids), timeout=60, message="{} copies".format(table))
        return made if count > 1 else made[0]


@pytest.fixture(scope="module")
def people(platform, amqp_uri, databases):
    return People(amqp_uri, Db(databases["learning"].url))


def midday_zone():
    """A fixed-offset zone where it is about midday now, so a lesson booked a
    few seconds ahead never crosses the tutor's local midnight."""
    offset = 12 - datetime.now(timezone.utc).hour
    offset = max(-12, min(offset, 12))
    return "Etc/GMT" if offset == 0 else "Etc/GMT{:+d}".format(-offset)  # Etc/ signs are inverted


ALL_WEEK = {"slots": [{"day_of_week": d, "start_time": "06:00", "end_time": "22:00"} for d in range(7)]}


def soon(seconds=3):
    """The first booking-grid time (services/learning/rules.py, GRID) at
    least ``seconds`` from now: up to 15 minutes later than asked."""
    at = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    floor = at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)
    return floor if floor == at else floor + timedelta(minutes=15)


def start_shortly(db, lesson_id, seconds=1):
    """Move a booked lesson to start ``seconds`` from now, keeping its
    length: booking only takes grid times, and a test that completes a
    lesson should not wait up to a quarter hour for it to start."""
    db.execute("UPDATE lessons SET ends_at = ends_at - scheduled_at + now() + make_interval(secs => :s), "
               "scheduled_at = now() + make_interval(secs => :s) WHERE id = :id", s=seconds, id=lesson_id)


def tutor_with_course(rpc, people, price=4500, duration=60, subject=None):
    tutor = people.make("tutor")
    rpc.learning.set_tutor_profile(tutor.token, {
        "hourly_rate": 4000, "currency": "EUR", "subjects": [subject or "maths"], "languages": ["en"],
        "bio": "Patient.", "timezone": midday_zone()})
    rpc.learning.set_availability(tutor.token, ALL_WEEK)
    course = rpc.learning.create_course(tutor.token, {"title": "Algebra", "price": price, "currency": "EUR",
                                                      "duration": duration})
    return tutor, course
