"""Users: registration, reading, changes and status. Each change and its
event are staged in one unit of work, and each change raises
the user's ``version`` by one under a row lock, so concurrent changes get
distinct versions and consumers can drop stale events."""
import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.common.auth import Principal
from services.common.errors import Conflict, Forbidden, NotFound
from services.common.paging import decode_cursor, encode_cursor
from services.identity import mails, tokens
from services.identity.events import snapshot
from services.identity.models import Role, TokenType, User, UserProfile, UserStatus
from services.identity.passwords import hash_password

PROFILE_FIELDS = ("bio", "preferences", "settings")


def sees_full_view(viewer, user):
    """The user themself, an admin, or a service: learning's resync reads
    email, status and version (services/learning/user_copies.py)."""
    return viewer is not None and (viewer.is_admin or viewer.is_service or viewer.user_id == str(user.id))


def user_view(user, viewer=None):
    """The user dict every RPC returns: in full for those ``sees_full_view``
    admits, otherwise ``public_view``."""
    if not sees_full_view(viewer, user):
        return public_view(user)
    return {
        "id": str(user.id), "email": user.email,
        "first_name": user.first_name, "last_name": user.last_name, "role": user.role.value,
        "status": user.status.value, "version": user.version, "email_verified": user.email_verified_at is not None,
        "created_at": user.created_at.isoformat(), "updated_at": user.updated_at.isoformat(),
        "profile": _profile_view(user.profile),
    }


def public_view(user):
    """What any signed-in user may see of another: who they are on the
    marketplace. Not how to reach them (email), their account's state
    (status, verification, version, last change) or their own settings
    (preferences, settings)."""
    return {"id": str(user.id), "first_name": user.first_name, "last_name": user.last_name,
            "role": user.role.value, "created_at": user.created_at.isoformat(),
            "profile": {"bio": user.profile.bio if user.profile else ""}}


def _profile_view(profile):
    if profile is None:  # a user inserted by hand, without a profile row
        return {"bio": "", "preferences": {}, "settings": {}}
    return {"bio": profile.bio, "preferences": profile.preferences, "settings": profile.settings}


def as_self(user):
    """The principal of the user themself, for views of their own account."""
    return Principal(user_id=str(user.id), role=user.role.value)


def _email_taken():
    return Conflict("an account with this email already exists", {"email": ["Already registered."]})


def _flush_or_conflict(session):
    """The unique index on email decides a race that a read-then-write check
    would lose: the second writer waits for the first and then fails here."""
    try:
        session.flush()
    except IntegrityError:
        raise _email_taken()  # the unit of work rolls back on the way out


# Writes -------------------------------------------------------------------

def create(uow, data, verified=False):
    """A user, an empty profile and ``user_created``, staged in ``uow``;
    ``Conflict`` if the email is taken. ``register`` and the create-admin
    command share it; the operator's command makes the address verified
    (``verified``), as the operator vouches for it."""
    session = uow.session
    user = User(email=data["email"], password_hash=hash_password(data["password"]), first_name=data["first_name"],
                last_name=data["last_name"], role=Role(data["role"]), status=UserStatus.active, version=1,
                email_verified_at=tokens.now() if verified else None)
    user.profile = UserProfile(bio="", preferences={}, settings={})
    session.add(user)
    _flush_or_conflict(session)
    session.refresh(user)  # the server-set timestamps
    uow.emit("user_created", snapshot(user))
    return user


def register(uow, data, app_url):
    """Self-registration that does not tell who has an account; the
    entrypoint answers the same either way (docs/architecture.md, "Accounts
    and enumeration").

    A new email gets its account and a mailed verification link; a taken
    one writes no user and emits nothing, and its owner is mailed a notice
    that someone tried to sign up with it. Both mails are queued in this
    unit of work, so each exists exactly when its outcome commits, and the
    tokens never leave identity. Both paths run one argon2 hash, so the
    expensive work is the same; the entrypoint pads both to one floor to
    hide the writes a taken email skips.
    """
    session = uow.session
    owner = user_by_email(session, data["email"])
    if owner is not None:
        hash_password(data["password"])
        mails.queue_address_taken(session, app_url, owner)
        return
    try:
        # A registration of the same new email racing this one passed the
        # check above too; the unique index lets one through and the other
        # gets the same answer (and the winner's owner the notice). The
        # savepoint keeps the transaction usable.
        with session.begin_nested():
            user = create(uow, data)
    except Conflict:
        owner = user_by_email(session, data["email"])
        if owner is not None:
            mails.queue_address_taken(session, app_url, owner)
        return
    mails.queue_verification(session, app_url, user, tokens.issue(session, user.id, TokenType.email_verification))


def update(uow, user_id, data, viewer, app_url):
    """Apply the fields that differ; a no-op keeps the version and emits
    nothing. A new email is unverified until the link mailed to it is used."""
    session = uow.session
    user = user_by_id(session, user_id, lock=True)
    _may_edit(user, viewer)
    changes = sorted(field for field, value in data.items() if value != _current(user, field))
    if changes:
        _apply(user, data, changes)
        user.version += 1
        _flush_or_conflict(session)
        if "email" in changes:
            # Links mailed to the old address must not verify or reset the new one.
            tokens.void_pending(session, user.id, TokenType.email_verification, TokenType.password_reset)
            mails.queue_verification(session, app_url, user,
                                     tokens.issue(session, user.id, TokenType.email_verification))
        uow.emit("user_updated", dict(snapshot(user), changes=changes))
    return user_view(user, viewer)


def _may_edit(user, viewer):
    # Suspension ends the user's sessions, so their tokens are refused
    # already (tokens._revoke); this is the second line, for a session that
    # a login racing the suspension may have started.
    if not viewer.is_admin and user.status != UserStatus.active:
        raise Forbidden("this account is {}".format(user.status.value))


def _current(user, field):
    if field in PROFILE_FIELDS:
        return getattr(user.profile, field) if user.profile else None
    return getattr(user, field)


def _apply(user, data, changes):
    if user.profile is None and any(f in PROFILE_FIELDS for f in changes):
        user.profile = UserProfile(bio="", preferences={}, settings={})
    for field in changes:
        setattr(user.profile if field in PROFILE_FIELDS else user, field, data[field])
    if "email" in changes:
        user.email_verified_at = None  # the new address is not verified yet


def set_status(uow, user_id, status, viewer):
    """Suspension and deactivation also end every session at once."""
    session = uow.session
    user = user_by_id(session, user_id, lock=True)
    new = UserStatus(status)
    if user.status != new:
        user.status = new
        user.version += 1
        session.flush()
        if new != UserStatus.active:
            tokens.revoke_all_sessions(uow, user.id)
        uow.emit(*_status_event(user))
    return user_view(user, viewer)


def _status_event(user):
    if user.status == UserStatus.deactivated:
        return "user_deactivated", snapshot(user)
    return "user_updated", dict(snapshot(user), changes=["status"])


# Reads --------------------------------------------------------------------

def user_by_id(session, user_id, lock=False):
    query = select(User).where(User.id == user_id)
    # ``of=User``: the profile is outer-joined, and PostgreSQL cannot lock the nullable side.
    user = session.execute(query.with_for_update(of=User) if lock else query).unique().scalar()
    if user is None:
        raise NotFound("no such user", {"user_id": ["Unknown user."]})
    return user


def user_by_email(session, email):
    return session.execute(select(User).where(User.email == email)).unique().scalar()


def user_by_email_or_404(session, email):
    user = user_by_email(session, email)
    if user is None:
        raise NotFound("no user with this email", {"email": ["Unknown email."]})
    return user


def users_by_ids(session, user_ids, viewer):
    """One query; results in the order asked, None where an id is unknown."""
    rows = session.execute(select(User).where(User.id.in_(set(user_ids)))).unique().scalars()
    by_id = {user.id: user_view(user, viewer) for user in rows}
    return [by_id.get(user_id) for user_id in user_ids]


def list_page(session, viewer, query):
    """Keyset paging by id: one row more than asked tells whether a next page exists."""
    stmt = select(User).order_by(User.id).limit(query["limit"] + 1)
    if query["role"]:
        stmt = stmt.where(User.role == Role(query["role"]))
    if query["cursor"]:
        (after,) = decode_cursor(query["cursor"], uuid.UUID)
        stmt = stmt.where(User.id > after)
    rows = session.execute(stmt).unique().scalars().all()
    page = rows[:query["limit"]]
    more = len(rows) > query["limit"]
    return {"items": [user_view(user, viewer) for user in page],
            "next_cursor": encode_cursor(page[-1].id) if more else None}
