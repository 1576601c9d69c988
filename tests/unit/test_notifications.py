"""Communication's notifications without a database: the texts each event
makes and for whom, money, the default channels, the preference payload,
and that a mail is queued through services/common/mail.py."""
import uuid
from datetime import date, datetime, timedelta, timezone
from types import SimpleNamespace
from unittest import mock

import pytest

from services.common.errors import BadInput
from services.communication import notifications, preferences
from services.communication.models import LessonSchedule
from services.common.money import money
from services.communication.notifications import TYPES, compose

STUDENT, TUTOR = uuid.uuid4(), uuid.uuid4()
LESSON_ID = uuid.uuid4()
START = datetime(2026, 12, 1, 14, 0, tzinfo=timezone.utc)  # a Tuesday


def lesson(**changes):
    values = dict(lesson_id=LESSON_ID, course_title="Algebra I", student_user_id=STUDENT, tutor_user_id=TUTOR,
                  student_name="Ada Lovelace", tutor_name="Alan Turing", scheduled_at=START,
                  ends_at=START + timedelta(hours=1), status="confirmed", reminded_at=None)
    values.update(changes)
    return LessonSchedule(**values)


def lesson_data(**changes):
    data = {"id": LESSON_ID, "student_user_id": STUDENT, "tutor_user_id": TUTOR, "scheduled_at": START,
            "ends_at": START + timedelta(hours=1), "status": "confirmed"}
    data.update(changes)
    return data


def one(drafts):
    assert len(drafts) == 1
    return drafts[0]


# Money ---------------------------------------------------------------------------

@pytest.mark.parametrize("amount, currency, text", [
    (4500, "EUR", "EUR 45.00"), (5, "usd", "USD 0.05"), (123456789, "GBP", "GBP 1,234,567.89"),
    (4500, "JPY", "JPY 4,500"), (0, "KRW", "KRW 0"), (1500, "KWD", "KWD 1.500"), (-250, "EUR", "EUR -2.50"),
])
def test_money_is_written_from_minor_units_with_its_currency(amount, currency, text):
    assert money(amount, currency) == text


def test_times_are_written_in_utc():
    assert notifications.when(START) == "Tue 1 Dec, 14:00 UTC"
    assert notifications.when("2026-12-01T15:30:00+01:00") == "Tue 1 Dec, 14:30 UTC"
    assert notifications.clock(START) == "14:00 UTC"
    assert notifications.week(date(2026, 11, 23), "2026-11-29") == "23 Nov – 29 Nov 2026"


# Who is told what --------------------------------------------------------------------

def test_welcome_greets_the_new_user_by_name():
    draft = one(compose("user_created", {"user_id": STUDENT, "first_name": "Ada", "role": "student"}))
    assert (draft.user_id, draft.type, draft.title) == (STUDENT, "welcome", "Welcome to the tutoring marketplace")
    assert draft.content.startswith("Hi Ada, your account is ready.") and "book your first lesson" in draft.content
    tutor = one(compose("user_created", {"user_id": TUTOR, "first_name": "Alan", "role": "tutor"}))
    assert "students can book you" in tutor.content


def test_a_priced_booking_tells_the_student_to_pay_by_the_deadline_and_not_the_tutor():
    due = datetime(2026, 11, 25, 10, 15, tzinfo=timezone.utc)
    data = lesson_data(status="awaiting_payment", payment_due_at=due, price=4500, currency="EUR",
                       course_title="Algebra I", student_name="Ada Lovelace", tutor_name="Alan Turing")
    draft = one(compose("lesson_booked", data, lesson(status="awaiting_payment")))
    assert (draft.user_id, draft.type, draft.title) == (STUDENT, "lesson_booked", "Lesson booked")
    assert draft.content == ("“Algebra I” with Alan Turing on Tue 1 Dec, 14:00 UTC is booked: "
                             "pay EUR 45.00 by 10:15 UTC to keep it.")
    assert draft.data == {"lesson_id": str(LESSON_ID)}


def test_a_free_booking_waits_for_the_tutor_who_gets_a_request():
    data = lesson_data(status="requested", payment_due_at=None, price=0, currency="EUR",
                       course_title="Algebra I", student_name="Ada Lovelace", tutor_name="Alan Turing")
    student, tutor = compose("lesson_booked", data, lesson(status="requested"))
    assert student.user_id == STUDENT and student.content.endswith("waiting for the tutor to confirm.")
    assert (tutor.user_id, tutor.title) == (TUTOR, "New booking request")
    assert "Ada Lovelace booked “Algebra I” on Tue 1 Dec, 14:00 UTC" in tutor.content


def test_a_paid_lesson_is_the_tutors_to_confirm_and_the_student_waits():
    tutor, student = compose("lesson_paid", lesson_data(status="requested"), lesson(status="requested"))
    assert (tutor.user_id, tutor.title) == (TUTOR, "New booking to confirm")
    assert (student.user_id, student.title) == (STUDENT, "Payment received, waiting for the tutor")
    assert "Alan Turing will confirm" in student.content


def test_a_confirmed_lesson_names_its_time_in_the_title():
    draft = one(compose("lesson_confirmed", lesson_data(), lesson()))
    assert (draft.user_id, draft.title) == (STUDENT, "Lesson confirmed for Tue 1 Dec, 14:00 UTC")


@pytest.mark.parametrize("role, told, who", [("student", TUTOR, "Ada Lovelace"), ("tutor", STUDENT, "Alan Turing")])
def test_a_cancellation_tells_the_other_party_who_and_why(role, told, who):
    data = lesson_data(status="cancelled", cancelled_by_role=role, cancel_reason="Feeling unwell.")
    draft = one(compose("lesson_cancelled", data, lesson(status="cancelled")))
    assert (draft.user_id, draft.title) == (told, "Lesson cancelled by " + who)
    assert draft.content.startswith("Lesson cancelled by {}: Feeling unwell.".format(who))
    no_reason = one(compose("lesson_cancelled", dict(data, cancel_reason=None), lesson(status="cancelled")))
    assert "no reason given" in no_reason.content


def test_completed_asks_for_a_review_and_expired_says_the_slot_is_free():
    done = one(compose("lesson_completed", lesson_data(status="completed"), lesson(status="completed")))
    assert done.user_id == STUDENT and "review" in done.content
    gone = one(compose("lesson_expired", lesson_data(status="expired"), lesson(status="expired")))
    assert (gone.user_id, gone.title) == (STUDENT, "Lesson not paid in time")
    assert "not paid in time" in gone.content and "released" in gone.content


def test_a_lesson_event_whose_booking_never_arrived_still_makes_a_text():
    draft = one(compose("lesson_confirmed", lesson_data(), None, name_of=lambda uid: "Alan T"))
    assert draft.user_id == STUDENT and draft.content.startswith("Alan T confirmed your lesson.")


def payment(**changes):
    data = {"payment_id": uuid.uuid4(), "lesson_id": LESSON_ID, "student_user_id": STUDENT,
            "tutor_user_id": TUTOR, "amount": 4500, "currency": "EUR", "message": None}
    data.update(changes)
    return data


def test_payments_tell_the_student_with_the_amount_and_stripes_message():
    paid = one(compose("payment_succeeded", payment(), lesson()))
    assert (paid.user_id, paid.title) == (STUDENT, "Payment succeeded") and "EUR 45.00" in paid.content
    assert paid.data["lesson_id"] == str(LESSON_ID) and "payment_id" in paid.data
    failed = one(compose("payment_failed", payment(message="Your card was declined."), lesson()))
    assert (failed.user_id, failed.title) == (STUDENT, "Payment failed")
    assert "did not go through: Your card was declined. You can try again." in failed.content
    silent = one(compose("payment_failed", payment(), None))
    assert "did not go through. You can try again." in silent.content


def test_a_refund_names_its_amount_and_reason():
    data = {"refund_id": uuid.uuid4(), "payment_id": uuid.uuid4(), "lesson_id": LESSON_ID,
            "student_user_id": STUDENT, "amount": 2250, "currency": "EUR", "kind": "policy",
            "reason": "Cancelled 12 hours before the start: half refunded."}
    draft = one(compose("refund_succeeded", data, lesson(status="cancelled")))
    assert (draft.user_id, draft.title) == (STUDENT, "Refund of EUR 22.50")
    assert "half refunded" in draft.content


def test_a_payout_names_its_amount_and_week():
    data = {"payout_id": uuid.uuid4(), "tutor_user_id": TUTOR, "amount": 500000, "currency": "JPY",
            "period_start": date(2026, 11, 23), "period_end": date(2026, 11, 29)}
    draft = one(compose("payout_paid", data))
    assert (draft.user_id, draft.title) == (TUTOR, "Payout of JPY 500,000 sent")
    assert "23 Nov – 29 Nov 2026" in draft.content


def test_a_reminder_tells_both_parties_how_soon():
    student, tutor = notifications.reminder_drafts(lesson(), START - timedelta(minutes=29, seconds=30))
    assert {student.user_id, tutor.user_id} == {STUDENT, TUTOR}
    assert student.title == tutor.title == "Your lesson starts in 30 minutes"
    assert "with Alan Turing" in student.content and "with Ada Lovelace" in tutor.content
    assert notifications.reminder_drafts(lesson(), START - timedelta(seconds=20))[0].title.endswith("1 minute")


def test_an_unread_notice_counts_the_messages_and_names_the_sender():
    conversation = uuid.uuid4()
    draft = notifications.unread_draft(STUDENT, conversation, "Alan Turing", 3, "See you   tomorrow\n" + "x" * 300)
    assert (draft.type, draft.title) == ("new_message", "3 new messages from Alan Turing")
    assert draft.content.startswith("See you tomorrow x") and len(draft.content) == notifications.PREVIEW_CHARS
    assert draft.data == {"conversation_id": str(conversation)}
    assert notifications.unread_draft(STUDENT, conversation, "A", 1, "hi").title == "1 new message from A"


def test_every_type_a_text_can_make_is_a_known_type():
    for event_type in ("lesson_paid", "lesson_confirmed", "lesson_completed", "lesson_expired"):
        for draft in compose(event_type, lesson_data(), lesson()):
            assert draft.type in TYPES and len(draft.title) <= 200
    with pytest.raises(ValueError):
        compose("lesson_rescheduled", lesson_data(), lesson())


# Defaults and preferences ----------------------------------------------------------

def test_default_channels():
    by_mail = {t for t, kind in TYPES.items() if kind.email}
    assert by_mail == {"lesson_confirmed", "lesson_cancelled", "lesson_reminder", "lesson_expired",
                       "payment_failed", "refund_succeeded", "payout_paid", "new_message"}
    assert all(kind.in_app for kind in TYPES.values())
    assert set(TYPES) == by_mail | {"welcome", "lesson_booked", "lesson_paid", "lesson_completed",
                                    "payment_succeeded"}


def test_a_user_without_choices_gets_every_type_with_its_defaults():
    session = mock.Mock()
    session.scalars.return_value = [SimpleNamespace(type="lesson_booked", in_app=False, email=True)]
    view = preferences.of_user(session, STUDENT)
    assert [p["type"] for p in view] == list(TYPES)
    by_type = {p["type"]: p for p in view}
    assert by_type["lesson_booked"] == {"type": "lesson_booked", "label": "Lesson booked", "in_app": False,
                                        "email": True}
    assert by_type["payout_paid"]["in_app"] is True and by_type["payout_paid"]["email"] is True
    assert by_type["welcome"]["email"] is False


def test_preference_changes_are_loaded_as_given():
    changes = preferences.load_changes({"preferences": [{"type": "lesson_booked", "inApp": False},
                                                        {"type": "new_message", "email": False, "inApp": True}]})
    assert changes == [{"type": "lesson_booked", "in_app": False},
                       {"type": "new_message", "email": False, "in_app": True}]


@pytest.mark.parametrize("payload, where", [
    ({"preferences": [{"type": "new_message", "email": True}, {"type": "spam", "email": True}]}, "1"),
    ({"preferences": [{"type": "new_message"}]}, "0"),
    ({"preferences": [{"type": "new_message", "email": "yes"}]}, "0"),
    ({"preferences": [{"type": "new_message", "email": True, "sms": True}]}, "0"),
])
def test_a_bad_preference_item_is_named_by_its_index(payload, where):
    with pytest.raises(BadInput) as caught:
        preferences.load_changes(payload)
    assert where in caught.value.details["preferences"]


@pytest.mark.parametrize("payload", [
    {}, {"preferences": []}, {"preferences": "all"}, {"preferences": [], "extra": 1},
    {"preferences": [{"type": t, "email": True} for t in TYPES] + [{"type": "welcome", "email": True}]},
    {"preferences": [{"type": "welcome", "email": True}, {"type": "welcome", "inApp": True}]},
])
def test_a_bad_preference_payload_is_refused(payload):
    with pytest.raises(BadInput) as caught:
        preferences.load_changes(payload)
    assert set(caught.value.details) & {"preferences", "extra"}


# Delivery, with fakes --------------------------------------------------------------------

class FakeUow:
    def __init__(self, inserted=True):
        self.session = mock.Mock()
        self.session.execute.return_value.scalar.return_value = uuid.uuid4() if inserted else None


def deliver(draft, in_app, email, person, inserted=True):
    uow = FakeUow(inserted)
    with mock.patch.object(notifications, "channels", return_value={STUDENT: (in_app, email)}), \
            mock.patch.object(notifications.activity, "record") as record, \
            mock.patch.object(notifications.people, "person", return_value=person), \
            mock.patch.object(notifications.mail, "queue_mail") as queue_mail:
        made = notifications.deliver(uow, uuid.uuid4(), [draft])
    return uow, made, record, queue_mail


DRAFT = notifications.Draft(user_id=STUDENT, type="lesson_expired", title="Lesson not paid in time",
                            content="“Algebra I” was not paid in time.", data={})
ADA = SimpleNamespace(email="ada@example.com", status="active")


def test_a_new_notification_is_recorded_as_activity_and_mailed():
    uow, made, record, queue_mail = deliver(DRAFT, True, True, ADA)
    assert len(made) == 1
    record.assert_called_once_with(uow, STUDENT, "notification", made[0])
    (session, to, subject, text, html), kwargs = queue_mail.call_args
    assert (to, subject, kwargs) == ("ada@example.com", "Lesson not paid in time", {"kind": "lesson_expired"})
    assert "was not paid in time" in text and "was not paid in time" in html and html.startswith("<!DOCTYPE html>")


def test_a_notification_made_before_is_neither_recorded_nor_mailed_again():
    _, made, record, queue_mail = deliver(DRAFT, True, True, ADA, inserted=False)
    assert made == [] and not record.called and not queue_mail.called


def test_in_app_off_makes_no_row_and_email_off_no_mail():
    uow, made, record, queue_mail = deliver(DRAFT, False, True, ADA)
    assert made == [] and not record.called and not uow.session.execute.called and queue_mail.called
    _, made, record, queue_mail = deliver(DRAFT, True, False, ADA)
    assert len(made) == 1 and record.called and not queue_mail.called


@pytest.mark.parametrize("person", [None, SimpleNamespace(email="gone@example.com", status="deactivated")])
def test_no_mail_without_a_known_address_of_an_active_user(person):
    _, made, _, queue_mail = deliver(DRAFT, True, True, person)
    assert len(made) == 1 and not queue_mail.called


def test_timer_settings_come_from_the_config_with_fractions():
    assert notifications.setting(None, "UNREAD_NOTICE_MINUTES", 10) == 10
    assert notifications.setting({"UNREAD_NOTICE_MINUTES": "0.05"}, "UNREAD_NOTICE_MINUTES", 10) == 0.05
    assert notifications.setting({"REMINDER_MINUTES": 45}, "REMINDER_MINUTES", 30) == 45
