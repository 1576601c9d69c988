"""Tutor profiles, verification, search and weekly availability."""
import uuid

from sqlalchemy import and_, delete, or_, select, text

from services.common.errors import BadInput, Conflict
from services.common.paging import decode_cursor, encode_cursor
from services.learning.models import Course, CourseStatus, Tutor, TutorAvailability
from services.learning.schemas import TutorProfileSchema
from services.learning.user_copies import tutor_by_user


def tutor_view(tutor):
    """What anyone may see of a tutor (no email: that stays with identity's rules)."""
    return {"id": str(tutor.id), "user_id": str(tutor.user_id), "name": tutor.name,
            "hourly_rate": tutor.hourly_rate, "currency": tutor.currency, "subjects": list(tutor.subjects),
            "languages": list(tutor.languages), "bio": tutor.bio, "timezone": tutor.timezone,
            "is_verified": tutor.is_verified}


def set_profile(uow, user_id, changes):
    """A partial update: only the fields in ``changes`` change. A tutor has
    no profile until it has a rate (search lists only tutors with one), so
    the first call must give TutorProfileSchema.TO_CREATE; the others keep
    the row's defaults (USD, no bio, UTC) unless given."""
    tutor = tutor_by_user(uow.session, user_id, lock=True)
    if tutor.hourly_rate is None:
        missing = [f for f in TutorProfileSchema.TO_CREATE if f not in changes]
        if missing:
            raise BadInput("a new tutor profile needs {}".format(", ".join(TutorProfileSchema.TO_CREATE)),
                           {f: ["Required to create a profile."] for f in missing})
    if "currency" in changes and changes["currency"] != tutor.currency:
        _check_currency_matches_courses(uow.session, tutor, changes["currency"])
    for field, value in changes.items():
        setattr(tutor, field, value)
    return _profile_changed(uow, tutor)


def _check_currency_matches_courses(session, tutor, currency):
    """A profile's rate and its active courses' prices are read as one
    offer; a currency change that would leave them in different currencies
    is refused rather than silently converting or leaving prices in the old
    one (docs/graphql.md, "Partial updates"). Archive or change the courses first."""
    others = session.execute(select(Course.currency).where(
        Course.tutor_id == tutor.id, Course.status == CourseStatus.active,
        Course.currency != currency).distinct()).scalars().all()
    if others:
        raise Conflict("your active courses are priced in {}; change or archive them before setting the profile's "
                       "currency to {}".format(", ".join(sorted(others)), currency),
                       {"currency": ["Differs from your active courses' currency ({}).".format(
                           ", ".join(sorted(others)))]})


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
    if q["language"]:
        query = query.where(Tutor.languages.any(q["language"]))
    if q["max_rate"] is not None:
        query = query.where(Tutor.hourly_rate <= q["max_rate"])
    if q["verified_only"]:
        query = query.where(Tutor.is_verified.is_(True))
    if q["subject"]:
        query = query.where(_subject_filter(session, query, q["subject"]))
    if q["cursor"]:
        rate, last_id = decode_cursor(q["cursor"], int, uuid.UUID)
        query = query.where(or_(Tutor.hourly_rate > rate, and_(Tutor.hourly_rate == rate, Tutor.id > last_id)))
    rows = session.execute(query.order_by(Tutor.hourly_rate, Tutor.id).limit(q["limit"] + 1)).scalars().all()
    page = rows[:q["limit"]]
    more = len(rows) > q["limit"]
    return {"items": [dict(tutor_view(t), cursor=encode_cursor(t.hourly_rate, t.id)) for t in page],
            "next_cursor": encode_cursor(page[-1].hourly_rate, page[-1].id) if more else None}


# pg_trgm's similarity (0 to 1) from which a stored subject counts as a near
# miss of the one searched: "mathz" and "maths" score 0.5.
NEAR_MISS = 0.3
_NEAR_SUBJECT = text("EXISTS (SELECT 1 FROM unnest(tutors.subjects) AS s WHERE similarity(s, :subject) >= :near)")


def _subject_filter(session, query, subject):
    """Subjects are stored folded (services/learning/subjects.py), so an
    exact match is case-insensitive. Only when no tutor matches exactly
    (with the other filters) are near misses by trigram similarity
    (pg_trgm, migration 0004) taken instead: a typo still finds tutors, but
    a subject that exists is never diluted by look-alikes ("paging-1a2b"
    and "paging-3c4d" share a word and score above NEAR_MISS)."""
    exact = Tutor.subjects.any(subject)
    if session.execute(query.where(exact).with_only_columns(Tutor.id).limit(1)).first():
        return exact
    return _NEAR_SUBJECT.bindparams(subject=subject, near=NEAR_MISS)


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
