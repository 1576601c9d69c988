"""Matching requests: a student asks for a tutor for a subject and budget."""
from datetime import datetime, timezone

from sqlalchemy import select

from services.common.errors import Conflict, Forbidden, NotFound
from services.learning.user_copies import student_by_user
from services.learning.models import MatchingRequest, MatchingRequestStatus


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
