"""Matching requests: a student asks for a tutor for a subject and budget."""
from datetime import datetime, timezone

import uuid

from sqlalchemy import and_, func, or_, select

from services.common.errors import BadInput, Conflict, Forbidden, NotFound
from services.common.paging import decode_cursor, encode_cursor
from services.learning.user_copies import student_by_user, tutor_by_user
from services.learning.models import MatchingRequest, MatchingRequestStatus, Student


def request_view(req, student_user_id):
    return {"id": str(req.id), "student_user_id": str(student_user_id), "subject": req.subject,
            "budget": req.budget, "currency": req.currency, "requirements": req.requirements,
            "status": req.status.value, "created_at": req.created_at.isoformat() if req.created_at else None,
            "closed_at": req.closed_at.isoformat() if req.closed_at else None}


def create(uow, user_id, data):
    session = uow.session
    student = student_by_user(session, user_id)
    req = MatchingRequest(student_id=student.id, **data)
    session.add(req)
    session.flush()
    session.refresh(req)
    view = request_view(req, student.user_id)
    uow.emit("matching_request_created", view)
    return view


def list_own(session, user_id, status=None):
    student = student_by_user(session, user_id)
    query = select(MatchingRequest).where(MatchingRequest.student_id == student.id)
    if status:
        query = query.where(MatchingRequest.status == MatchingRequestStatus(status))
    rows = session.execute(query.order_by(MatchingRequest.created_at.desc(), MatchingRequest.id)).scalars()
    return [request_view(r, student.user_id) for r in rows]


def open_for_tutor(session, user_id, first, after=None):
    """Open requests that fit the tutor: a subject among theirs, compared
    case-insensitively, and a budget (cents an hour, as ``hourly_rate``) in
    the tutor's currency at or above their rate. Oldest first, then by id: a
    total order, so the cursor (created_at, id) pages without gaps or
    repeats. A tutor with no rate or subjects yet fits none."""
    tutor = tutor_by_user(session, user_id)
    subjects = [s.lower() for s in tutor.subjects or []]
    if tutor.hourly_rate is None or not subjects:
        return {"items": [], "next_cursor": None}
    query = (select(MatchingRequest, Student.user_id).join(Student, Student.id == MatchingRequest.student_id)
             .where(MatchingRequest.status == MatchingRequestStatus.open,
                    func.lower(MatchingRequest.subject).in_(subjects),
                    MatchingRequest.currency == tutor.currency,
                    MatchingRequest.budget >= tutor.hourly_rate))
    if after:
        try:
            at, last_id = decode_cursor(after, datetime.fromisoformat, uuid.UUID)
        except BadInput:  # named as the client's argument
            raise BadInput("invalid cursor", {"after": ["Not a cursor this API returned."]})
        query = query.where(or_(MatchingRequest.created_at > at,
                                and_(MatchingRequest.created_at == at, MatchingRequest.id > last_id)))
    rows = session.execute(query.order_by(MatchingRequest.created_at, MatchingRequest.id).limit(first + 1)).all()
    page, more = rows[:first], len(rows) > first
    return {"items": [dict(request_view(r, uid), cursor=encode_cursor(r.created_at.isoformat(), r.id))
                      for r, uid in page],
            "next_cursor": encode_cursor(page[-1][0].created_at.isoformat(), page[-1][0].id) if more else None}


def close(uow, user_id, request_id):
    session = uow.session
    student = student_by_user(session, user_id)
    req = session.execute(select(MatchingRequest).where(MatchingRequest.id == request_id).with_for_update()).scalar()
    if req is None:
        raise NotFound("no such matching request", {"request_id": ["Unknown request."]})
    if req.student_id != student.id:
        raise Forbidden("only the student who made a request may close it")
    if req.status == MatchingRequestStatus.closed:
        raise Conflict("this request is already closed", {"request_id": ["Already closed."]})
    req.status, req.closed_at = MatchingRequestStatus.closed, datetime.now(timezone.utc)
    return request_view(req, student.user_id)
