"""Each user's activity stream: a numbered row per message and
notification that reached them. ``activity_added`` (no content) tells the
gateway's live streams that a user has something new; a client asks for the
rows after the last one it saw (docs/communication.md, "Live delivery")."""
from sqlalchemy import select

from services.common.errors import BadInput
from services.communication.models import Activity, Message, Notification

KINDS = ("message", "notification")
MAX_PAGE = 100


def record(uow, user_id, kind, ref_id):
    row = Activity(user_id=user_id, kind=kind, ref_id=ref_id)
    uow.session.add(row)
    uow.session.flush()
    uow.emit("activity_added", {"user_id": str(user_id), "activity_id": row.id, "kind": kind})
    return row


def check_range(after, limit):
    if isinstance(after, bool) or not isinstance(after, int) or after < 0:
        raise BadInput("after is an activity id", {"after": ["Must be a whole number, 0 or more."]})
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
        raise BadInput("limit out of range", {"limit": ["Must be from 1 to {}.".format(MAX_PAGE)]})
    return after, limit


def since(session, user_id, after, limit):
    """The user's rows after ``after``, oldest first, each with its message
    or notification; ``{"items", "last_id", "more"}``."""
    from services.communication import messages, notifications  # they record activity too
    rows = session.scalars(select(Activity).where(Activity.user_id == user_id, Activity.id > after)
                           .order_by(Activity.id).limit(limit + 1)).all()
    more, rows = len(rows) > limit, rows[:limit]
    found = {}
    for kind, model, view in (("message", Message, messages.view), ("notification", Notification,
                                                                     notifications.view)):
        ids = [r.ref_id for r in rows if r.kind == kind]
        if ids:
            found.update({(kind, m.id): view(m) for m in session.scalars(select(model).where(model.id.in_(ids)))})
    items = [{"id": r.id, "kind": r.kind, r.kind: found.get((r.kind, r.ref_id))} for r in rows
             if (r.kind, r.ref_id) in found]
    return {"items": items, "last_id": rows[-1].id if rows else after, "more": more}
