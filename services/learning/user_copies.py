"""Learning's copy of each user's email and name, kept in step with identity.

Every identity user event carries a full snapshot and the user's version, so
applying one is an upsert guarded by ``source_version``: events may arrive
twice or out of order, and the newest version still wins.

The newest wins, so a version from the far future would pin the copy for
good: no real event could overwrite it. An event whose version runs more
than ``MAX_VERSION_JUMP`` ahead of the copy is therefore refused as a dead
letter, and ``resync_users`` sets a copy that is ahead of identity back to
identity's data (docs/events.md, "How our consumers handle failure").
"""
import uuid
from dataclasses import dataclass, field

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert

from services.common.errors import NotFound
from services.common.inbox import DeadLetter
from services.learning.models import Student, Tutor

COPIED_ROLES = {"student": Student, "tutor": Tutor}
# How far a user event's version may run ahead of the copy's (of 0 when
# there is no copy yet). Identity raises a user's version by one per change
# and publishes in commit order, so a copy trails only by the user's changes
# still on their way, a handful at most; a thousand means events learning
# never had (a restore of its database from an old backup, or a forgery),
# and resync_users, not the event, is the repair.
MAX_VERSION_JUMP = 1000
# source_version is an INTEGER column.
MAX_VERSION = 2 ** 31 - 1


class UserSnapshot(Schema):
    """What learning reads of identity's user_created, user_updated and
    user_deactivated, version 1 (docs/events.md): its own declaration of
    the published contract, since no service imports another."""
    class Meta:
        unknown = EXCLUDE

    user_id = fields.UUID(required=True)
    email = fields.Email(required=True)
    first_name = fields.String(required=True, validate=validate.Length(max=100))
    last_name = fields.String(required=True, validate=validate.Length(max=100))
    role = fields.String(required=True, validate=validate.OneOf(["student", "tutor", "admin"]))
    status = fields.String(required=True, validate=validate.OneOf(["active", "suspended", "deactivated"]))
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=MAX_VERSION))


def upsert_copy(session, snap, only_if_older_than=None):
    """Insert or update the copy unless it already holds a newer version.
    Returns 'created', 'updated' or 'unchanged'."""
    model = COPIED_ROLES.get(snap["role"])
    if model is None:
        return "unchanged"  # admins have no learning profile
    values = {"user_id": snap["user_id"], "email": snap["email"],
              "name": "{} {}".format(snap["first_name"], snap["last_name"]).strip(),
              "user_status": snap["status"], "source_version": snap["version"]}
    guard = model.source_version < snap["version"] if only_if_older_than is None \
        else model.source_version <= only_if_older_than
    stmt = insert(model).values(**values).on_conflict_do_update(
        index_elements=[model.user_id],
        set_={**{k: v for k, v in values.items() if k != "user_id"}, "updated_at": func.now()},
        where=guard,
    ).returning(model.id, literal_column("xmax = 0").label("inserted"))  # xmax 0: a fresh insert
    row = session.execute(stmt).first()
    if row is None:
        return "unchanged"
    return "created" if row.inserted else "updated"


def apply_user_event(uow, snap):
    """Identity's user_created, user_updated and user_deactivated, checked
    against ``UserSnapshot`` by the inbox; ``DeadLetter`` for a version
    implausibly far ahead of the copy."""
    model = COPIED_ROLES.get(snap["role"])
    if model is not None:
        held = uow.session.execute(select(model.source_version).where(model.user_id == snap["user_id"])).scalar()
        problem = implausible_version(held, snap["version"])
        if problem:
            raise DeadLetter("user {}: {}".format(snap["user_id"], problem))
    upsert_copy(uow.session, snap)


def implausible_version(held, version):
    """Why ``version`` cannot be a real successor of the copy's version
    ``held`` (None: no copy), or None when it can."""
    if version - (held or 0) <= MAX_VERSION_JUMP:
        return None
    return "version {} is more than {} ahead of {} (MAX_VERSION_JUMP); if identity really is there, " \
        "resync_users repairs the copy".format(
            version, MAX_VERSION_JUMP, "the copy's {}".format(held) if held is not None else "a missing copy's 0")


def _copy(session, model, user_id):
    return session.execute(select(model).where(model.user_id == user_id)).scalar()


def _copy_values(snap):
    return {"email": snap["email"], "name": "{} {}".format(snap["first_name"], snap["last_name"]).strip(),
            "user_status": snap["status"], "source_version": snap["version"]}


def _matches(row, snap):
    values = _copy_values(snap)
    return row is not None and (row.email, row.name, row.user_status, row.source_version) == \
        (values["email"], values["name"], values["user_status"], values["source_version"])


@dataclass
class ResyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    checked: int = 0
    seen: set = field(default_factory=set)
    rewound: list = field(default_factory=list)

    def as_dict(self, orphaned):
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "checked": self.checked, "rewound": self.rewound, "orphaned": orphaned}

    def count(self, outcome):
        setattr(self, outcome, getattr(self, outcome) + 1)


def _snapshot(user):
    return UserSnapshot().load(dict(user, user_id=user["id"]))


def resync_page(uow, users, report):
    """Repair the copies of one page of identity's ``list_users``; returns
    the user ids whose copy holds a version ahead of the page's, for
    ``rewind`` once identity has been asked again.

    A copy that differs is overwritten even at the same version (that is
    what a bug leaves behind), but never with data older than it already
    holds, so an event applied meanwhile is not undone.
    """
    ahead = []
    for user in users:
        snap = _snapshot(user)
        report.seen.add(snap["user_id"])
        report.checked += 1
        model = COPIED_ROLES.get(snap["role"])
        row = _copy(uow.session, model, snap["user_id"]) if model is not None else None
        if model is None or _matches(row, snap):
            report.unchanged += 1
        elif row is not None and row.source_version > snap["version"]:
            ahead.append(snap["user_id"])  # counted by rewind
        else:
            report.count(upsert_copy(uow.session, snap, only_if_older_than=snap["version"]))
    return ahead


def rewind(uow, users, report):
    """The copies ``resync_page`` found ahead of identity, against
    ``users``, identity's answer (``get_users``) asked after that page.

    A copy that identity has reached since was an event applied during the
    resync: it is repaired as any other copy. One still ahead holds a version
    identity never published (forged, or corrupt) and would refuse every real
    event for good: it is set back to identity's data and version, provided
    it still holds the version that was seen (nothing else could have moved
    it, as the guard refuses every real event).
    """
    for user in users:
        if user is None:
            report.unchanged += 1  # gone from identity since the page (it deletes no user): left as it is
            continue
        snap = _snapshot(user)
        model = COPIED_ROLES[snap["role"]]
        row = _copy(uow.session, model, snap["user_id"])
        if _matches(row, snap):
            report.unchanged += 1
        elif row is not None and row.source_version > snap["version"]:
            done = uow.session.execute(
                update(model).where(model.user_id == snap["user_id"], model.source_version == row.source_version)
                .values(**_copy_values(snap), updated_at=func.now())).rowcount
            report.count("updated" if done else "unchanged")
            if done:
                report.rewound.append(str(snap["user_id"]))
        else:
            report.count(upsert_copy(uow.session, snap, only_if_older_than=snap["version"]))


def orphans(session, seen):
    """Copies of users identity does not know: reported, never deleted."""
    return [str(user_id) for model in COPIED_ROLES.values()
            for (user_id,) in session.execute(select(model.user_id)) if user_id not in seen]


def _copy_by_user(session, model, role, user_id, lock=False):
    query = select(model).where(model.user_id == uuid.UUID(str(user_id)))
    row = session.execute(query.with_for_update() if lock else query).scalar()
    if row is None:
        # The copy is made from identity's user_created event; right after
        # registration it may take a moment to arrive.
        raise NotFound("no {} profile for this user yet".format(role),
                       {"user_id": ["Unknown {}.".format(role)]})
    return row


def tutor_by_user(session, user_id, lock=False):
    return _copy_by_user(session, Tutor, "tutor", user_id, lock)


def student_by_user(session, user_id):
    return _copy_by_user(session, Student, "student", user_id)
