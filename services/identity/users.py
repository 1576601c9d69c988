"""Users: registration, reading, changes and status, each change with its
event written to the outbox in the same transaction."""
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.common.auth import Principal
from services.common.errors import Conflict, NotFound
from services.common.paging import decode_cursor, encode_cursor
from services.identity.models import Role, User, UserProfile, UserStatus
from services.identity.passwords import hash_password

PROFILE_FIELDS = ("bio", "preferences", "settings")


def snapshot(user):
    """The event payload every user event carries (docs/events.md)."""
    return {"user_id": str(user.id), "email": user.email, "first_name": user.first_name,
            "last_name": user.last_name, "role": user.role.value, "status": user.status.value,
            "version": user.version}


def can_see_email(viewer, user):
    return viewer is not None and (viewer.is_admin or viewer.is_service or viewer.user_id == str(user.id))


def user_view(user, viewer=None):
    profile = user.profile
    return {
        "id": str(user.id), "email": user.email if can_see_email(viewer, user) else None,
        "first_name": user.first_name, "last_name": user.last_name, "role": user.role.value,
        "status": user.status.value, "version": user.version, "email_verified": user.email_verified_at is not None,
        "created_at": user.created_at.isoformat(), "updated_at": user.updated_at.isoformat(),
        "profile": {"bio": profile.bio if profile else "", "preferences": profile.preferences if profile else {},
                    "settings": profile.settings if profile else {}},
    }


def _email_taken():
    return Conflict("an account with this email already exists", {"email": ["Already registered."]})


def create(session, outbox, data):
    """A new user and profile, and ``user_created``; the caller commits."""
    user = User(email=data["email"], password_hash=hash_password(data["password"]), first_name=data["first_name"],
                last_name=data["last_name"], role=Role(data["role"]), status=UserStatus.active, version=1)
    user.profile = UserProfile(bio="", preferences={}, settings={})
    session.add(user)
    try:
        session.flush()  # the unique index decides a race between two registrations
    except IntegrityError:
        session.rollback()
        raise _email_taken()
    session.refresh(user)
    outbox.add(session, "user_created", snapshot(user))
    return user


def user_by_id(session, user_id, lock=False):
    query = select(User).where(User.id == user_id)
    user = session.execute(query.with_for_update(of=User) if lock else query).unique().scalar()
    if user is None:
        raise NotFound("no such user", {"user_id": ["Unknown user."]})
    return user


def user_by_email(session, email):
    return session.execute(select(User).where(User.email == email)).unique().scalar()


def as_self(user):
    """The principal of the user themself, for views they see of their own account."""
    return Principal(user_id=str(user.id), role=user.role.value)


def users_by_ids(session, user_ids, viewer):
    rows = session.execute(select(User).where(User.id.in_(user_ids))).unique().scalars()
    by_id = {u.id: user_view(u, viewer) for u in rows}
    return [by_id.get(i) for i in user_ids]


def list_page(session, viewer, query):
    stmt = select(User).order_by(User.id).limit(query["limit"] + 1)
    if query["role"]:
        stmt = stmt.where(User.role == Role(query["role"]))
    if query["cursor"]:
        (after,) = decode_cursor(query["cursor"], uuid.UUID)
        stmt = stmt.where(User.id > after)
    rows = session.execute(stmt).unique().scalars().all()
    page = rows[:query["limit"]]
    return {"items": [user_view(u, viewer) for u in page],
            "next_cursor": encode_cursor(page[-1].id) if len(rows) > query["limit"] else None}


def update(session, outbox, user_id, data, viewer):
    """Apply the changes that differ; a no-op emits nothing and keeps the version."""
    user = user_by_id(session, user_id, lock=True)
    changes = sorted(k for k, v in data.items() if v != _current(user, k))
    if not changes:
        return user_view(user, viewer)
    for field in changes:
        setattr(user.profile if field in PROFILE_FIELDS else user, field, data[field])
    if "email" in changes:
        user.email_verified_at = None  # the new address is not verified yet
    user.version += 1
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise _email_taken()
    outbox.add(session, "user_updated", dict(snapshot(user), changes=changes))
    session.commit()
    session.refresh(user)
    return user_view(user, viewer)


def _current(user, field):
    return getattr(user.profile, field) if field in PROFILE_FIELDS else getattr(user, field)


def set_status(session, outbox, user_id, status, viewer):
    user = user_by_id(session, user_id, lock=True)
    new = UserStatus(status)
    if user.status == new:
        return user_view(user, viewer), False
    user.status = new
    user.version += 1
    session.flush()
    if new == UserStatus.deactivated:
        outbox.add(session, "user_deactivated", snapshot(user))
    else:
        outbox.add(session, "user_updated", dict(snapshot(user), changes=["status"]))
    return user_view(user, viewer), True
