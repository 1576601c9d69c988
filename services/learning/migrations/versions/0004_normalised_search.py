"""subjects folded, languages as ISO 639-1 codes, pg_trgm for near-miss search

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

from services.learning import languages, subjects

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def _unique(items):
    seen, out = set(), []
    for item in items:
        if item not in seen:
            seen.add(item)
            out.append(item)
    return out


def upgrade():
    # pg_trgm is a trusted extension (PostgreSQL 13 and later), so the
    # database's owner role, which runs migrations (services/common/provision.py),
    # may create it without being superuser, as with btree_gist in 0001.
    op.execute('CREATE EXTENSION IF NOT EXISTS pg_trgm')
    conn = op.get_bind()
    rows = conn.execute(sa.text("SELECT id, subjects, languages FROM tutors")).all()
    for tutor_id, subs, langs in rows:
        new_subs = _unique(s for s in (subjects.normalise(s) for s in subs) if s)
        # A code that is not ISO 639-1 (the old rule also let ISO 639-2's
        # three letters through) is kept as it was rather than dropped:
        # the tutor's data is not lost, and the next list of languages they
        # send is checked in full (services/learning/schemas.py).
        new_langs = _unique(languages.normalise(code) or code for code in langs)
        if (new_subs, new_langs) != (list(subs), list(langs)):
            conn.execute(sa.text("UPDATE tutors SET subjects = :s, languages = :l WHERE id = :id"),
                         {"s": new_subs, "l": new_langs, "id": tutor_id})


def downgrade():
    # The folding is not undone: the folded values were valid before it too.
    op.execute('DROP EXTENSION IF EXISTS pg_trgm')
