"""Learning's copy of each user's email and name, kept in step with identity.

Every identity user event carries a full snapshot and the user's version, so
applying one is an upsert guarded by ``source_version``: events may arrive
twice or out of order, and the newest version still wins.
"""
import uuid
from dataclasses import dataclass, field

from marshmallow import EXCLUDE, Schema, fields, validate
from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert

from services.common.errors import NotFound
from services.learning.models import Student, Tutor

COPIED_ROLES = {"student": Student, "tutor": Tutor}


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
    version = fields.Integer(required=True, strict=True, validate=validate.Range(min=1))


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
    against ``UserSnapshot`` by the inbox."""
    upsert_copy(uow.session, snap)


def _copy_matches(session, snap):
    model = COPIED_ROLES[snap["role"]]
    row = session.execute(select(model).where(model.user_id == snap["user_id"])).scalar()
    name = "{} {}".format(snap["first_name"], snap["last_name"]).strip()
    return row is not None and (row.email, row.name, row.user_status, row.source_version) == \
        (snap["email"], name, snap["status"], snap["version"])


@dataclass
class ResyncReport:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    checked: int = 0
    seen: set = field(default_factory=set)

    def as_dict(self, orphaned):
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged,
                "checked": self.checked, "orphaned": orphaned}


def resync_page(uow, users, report):
    """Repair the copies of one page of identity's ``list_users``.

    A copy that differs is overwritten even at the same version (that is
    what a bug leaves behind), but never with data older than it already
    holds, so an event applied meanwhile is not undone.
    """
    for user in users:
        snap = UserSnapshot().load(dict(user, user_id=user["id"]))
        report.seen.add(snap["user_id"])
        report.checked += 1
        if snap["role"] not in COPIED_ROLES or _copy_matches(uow.session, snap):
            report.unchanged += 1
            continue
        outcome = upsert_copy(uow.session, snap, only_if_older_than=snap["version"])
        setattr(report, outcome, getattr(report, outcome) + 1)


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
