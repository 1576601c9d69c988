"""Tutor profiles, verification, search and weekly availability."""
import uuid

from sqlalchemy import and_, delete, or_, select

from services.common.paging import decode_cursor, encode_cursor
from services.learning.models import Tutor, TutorAvailability
from services.learning.user_copies import tutor_by_user


def tutor_view(tutor):
    """What anyone may see of a tutor (no email: that stays with identity's rules)."""
    return {"id": str(tutor.id), "user_id": str(tutor.user_id), "name": tutor.name,
            "hourly_rate": tutor.hourly_rate, "currency": tutor.currency, "subjects": list(tutor.subjects),
            "languages": list(tutor.languages), "bio": tutor.bio, "timezone": tutor.timezone,
            "is_verified": tutor.is_verified}


def set_profile(uow, user_id, profile):
    tutor = tutor_by_user(uow.session, user_id, lock=True)
    for field, value in profile.items():
        setattr(tutor, field, value)
    return _profile_changed(uow, tutor)


def set_verified(uow, user_id, is_verified):
    tutor = tutor_by_user(uow.session, user_id, lock=True)
    tutor.is_verified = is_verified
    return _profile_changed(uow, tutor)


def _profile_changed(uow, tutor):
    uow.session.flush()
    view = tutor_view(tutor)
    uow.emit("tutor_profile_updated", view)
    return view


def profiles(session, user_ids):
    rows = session.execute(select(Tutor).where(Tutor.user_id.in_(user_ids))).scalars()
    by_user = {t.user_id: tutor_view(t) for t in rows}
    return [by_user.get(u) for u in user_ids]


def search(session, q):
    """Active tutors with a rate, cheapest first, then by id: a total order,
    so the cursor (last rate, last id) pages without gaps or repeats."""
    query = select(Tutor).where(Tutor.hourly_rate.is_not(None), Tutor.user_status == "active")
    if q["subject"]:
        query = query.where(Tutor.subjects.any(q["subject"]))
    if q["language"]:
        query = query.where(Tutor.languages.any(q["language"]))
    if q["max_rate"] is not None:
        query = query.where(Tutor.hourly_rate <= q["max_rate"])
    if q["verified_only"]:
        query = query.where(Tutor.is_verified.is_(True))
    if q["cursor"]:
        rate, last_id = decode_cursor(q["cursor"], int, uuid.UUID)
        query = query.where(or_(Tutor.hourly_rate > rate, and_(Tutor.hourly_rate == rate, Tutor.id > last_id)))
    rows = session.execute(query.order_by(Tutor.hourly_rate, Tutor.id).limit(q["limit"] + 1)).scalars().all()
    page = rows[:q["limit"]]
    more = len(rows) > q["limit"]
    return {"items": [dict(tutor_view(t), cursor=encode_cursor(t.hourly_rate, t.id)) for t in page],
            "next_cursor": encode_cursor(page[-1].hourly_rate, page[-1].id) if more else None}


def slot_view(slot):
    return {"day_of_week": slot.day_of_week, "start_time": slot.start_time.strftime("%H:%M"),
            "end_time": slot.end_time.strftime("%H:%M")}


def set_availability(uow, user_id, slots):
    """Replace the tutor's weekly slots (validated not to overlap)."""
    session = uow.session
    tutor = tutor_by_user(session, user_id, lock=True)
    session.execute(delete(TutorAvailability).where(TutorAvailability.tutor_id == tutor.id))
    session.add_all(TutorAvailability(tutor_id=tutor.id, **slot) for slot in slots)
    session.flush()
    return availability(session, user_id)


def availability(session, user_id):
    tutor = tutor_by_user(session, user_id)
    return availabilities(session, [tutor.user_id])[0]


def availabilities(session, user_ids):
    """Each tutor's weekly slots in one query, in the order asked; None
    where a user is not a tutor."""
    rows = session.execute(select(Tutor, TutorAvailability).outerjoin(
        TutorAvailability, TutorAvailability.tutor_id == Tutor.id).where(Tutor.user_id.in_(set(user_ids)))
        .order_by(TutorAvailability.day_of_week, TutorAvailability.start_time)).all()
    found = {}
    for tutor, slot in rows:
        entry = found.setdefault(tutor.user_id, {"tutor_user_id": str(tutor.user_id), "timezone": tutor.timezone,
                                                 "slots": []})
        if slot is not None:
            entry["slots"].append(slot_view(slot))
    return [found.get(u) for u in user_ids]
