"""The service's principals and their tokens (only a hash of each token), approvals that expire, and a
journal an owner cannot TRUNCATE by mistake either (PostgreSQL: row triggers never see a TRUNCATE).

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    # A database made by create_all between the approvals change and this migration has the column already.
    if "expires_at" not in {column["name"] for column in sa.inspect(bind).get_columns("paybill_approvals")}:
        op.add_column("paybill_approvals", sa.Column("expires_at", sa.Float, nullable=True))
    op.create_table(
        "paybill_principals",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("role", sa.String(12), nullable=False),
        sa.Column("tenants", sa.Text, nullable=False),
        sa.Column("max_changes", sa.Integer, nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
    )
    op.create_table(
        "paybill_tokens",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("principal", sa.String(64), sa.ForeignKey("paybill_principals.name"), nullable=False),
        sa.Column("secret_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.Column("expires_at", sa.Float, nullable=True),
        sa.Column("revoked_at", sa.Float, nullable=True),
        sa.Column("revoked_by", sa.String(120), nullable=True),
    )
    op.create_index("ix_paybill_tokens_principal", "paybill_tokens", ["principal"])
    if bind.dialect.name == "postgresql":
        op.execute("CREATE OR REPLACE TRIGGER paybill_journal_no_truncate BEFORE TRUNCATE ON paybill_journal "
                   "FOR EACH STATEMENT EXECUTE FUNCTION paybill_journal_append_only()")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS paybill_journal_no_truncate ON paybill_journal")
    op.drop_table("paybill_tokens")
    op.drop_table("paybill_principals")
    op.drop_column("paybill_approvals", "expires_at")
