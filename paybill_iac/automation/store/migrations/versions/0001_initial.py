"""The automation state as it was before migrations: leases, the append-only journal (and the trigger that
keeps it so), review flags, approvals, workflows and their steps, retained data.

A database created before migrations existed holds exactly this; `migrate` stamps it at this revision
instead of creating it again.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS paybill_journal_no_update BEFORE UPDATE ON paybill_journal "
    "BEGIN SELECT RAISE(ABORT, 'the paybill journal is append-only'); END",
    "CREATE TRIGGER IF NOT EXISTS paybill_journal_no_delete BEFORE DELETE ON paybill_journal "
    "BEGIN SELECT RAISE(ABORT, 'the paybill journal is append-only'); END",
)
POSTGRES_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION paybill_journal_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION 'the paybill journal is append-only'; END $$ LANGUAGE plpgsql",
    "CREATE OR REPLACE TRIGGER paybill_journal_append_only BEFORE UPDATE OR DELETE ON paybill_journal "
    "FOR EACH ROW EXECUTE FUNCTION paybill_journal_append_only()",
)


def upgrade() -> None:
    op.create_table(
        "paybill_leases",
        sa.Column("stack", sa.String(200), primary_key=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("acquired_at", sa.Float, nullable=False),
        sa.Column("expires_at", sa.Float, nullable=False),
    )
    op.create_table(
        "paybill_journal",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("op_id", sa.String(64), nullable=False),
        sa.Column("event", sa.String(8), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("result", sa.String(20), nullable=True),
        sa.Column("state", sa.String(20), nullable=True),
        sa.Column("change_summary", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("details", sa.Text, nullable=True),
        sa.UniqueConstraint("op_id", "event", name="paybill_journal_one_start_one_end"),
    )
    for column in ("op_id", "stack", "tenant"):
        op.create_index(f"ix_paybill_journal_{column}", "paybill_journal", [column])
    op.create_table(
        "paybill_review_flags",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("op_id", sa.String(64), nullable=True),
        sa.Column("flagged_at", sa.Float, nullable=False),
        sa.Column("cleared_at", sa.Float, nullable=True),
        sa.Column("cleared_by", sa.String(120), nullable=True),
    )
    op.create_index("ix_paybill_review_flags_stack", "paybill_review_flags", ["stack"])
    op.create_table(
        "paybill_approvals",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("requested_by", sa.String(120), nullable=False),
        sa.Column("requested_at", sa.Float, nullable=False),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("change_summary", sa.Text, nullable=False),
        sa.Column("plan_path", sa.Text, nullable=False),
        sa.Column("plan_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("decided_by", sa.String(120), nullable=True),
        sa.Column("decided_at", sa.Float, nullable=True),
        sa.Column("used_at", sa.Float, nullable=True),
    )
    op.create_table(
        "paybill_workflows",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
    )
    op.create_index("ix_paybill_workflows_tenant", "paybill_workflows", ["tenant"])
    op.create_table(
        "paybill_workflow_steps",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("workflow_id", sa.String(64), nullable=False),
        sa.Column("step", sa.String(40), nullable=False),
        sa.Column("at", sa.Float, nullable=False),
        sa.Column("detail", sa.Text, nullable=True),
        sa.UniqueConstraint("workflow_id", "step", name="paybill_workflow_step_once"),
    )
    op.create_index("ix_paybill_workflow_steps_workflow_id", "paybill_workflow_steps", ["workflow_id"])
    op.create_table(
        "paybill_retained",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("urn", sa.Text, nullable=False),
        sa.Column("type", sa.String(200), nullable=False),
        sa.Column("retain_until", sa.Float, nullable=False),
        sa.Column("recorded_at", sa.Float, nullable=False),
    )
    op.create_index("ix_paybill_retained_tenant", "paybill_retained", ["tenant"])
    triggers = POSTGRES_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS
    for statement in triggers:
        op.execute(statement)


def downgrade() -> None:
    for table in ("paybill_retained", "paybill_workflow_steps", "paybill_workflows", "paybill_approvals",
                  "paybill_review_flags", "paybill_journal", "paybill_leases"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS paybill_journal_append_only()")
