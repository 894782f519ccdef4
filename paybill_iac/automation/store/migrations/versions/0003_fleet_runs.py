"""The fleet's runs, their per-tenant outcomes and saved update plans, so that a coordinator resumes at its
wave and plans live with the state, not on one host's disk.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paybill_fleet_runs",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("rollout", sa.String(64), nullable=False),
        sa.Column("operation", sa.String(40), nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("params", sa.Text, nullable=False),
        sa.Column("waves", sa.Text, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("halted", sa.Text, nullable=True),
        sa.Column("started_at", sa.Float, nullable=False),
        sa.Column("finished_at", sa.Float, nullable=True),
        sa.Column("owner", sa.String(200), nullable=False),
        sa.Column("claimed_until", sa.Float, nullable=False),
    )
    op.create_index("ix_paybill_fleet_runs_rollout", "paybill_fleet_runs", ["rollout"])
    op.create_table(
        "paybill_fleet_outcomes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(64), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=False),
        sa.Column("wave", sa.Integer, nullable=False),
        sa.Column("result", sa.String(20), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("approval", sa.Integer, nullable=True),
        sa.Column("recorded_at", sa.Float, nullable=False),
        sa.UniqueConstraint("run_id", "tenant", name="paybill_fleet_outcome_once"),
    )
    op.create_index("ix_paybill_fleet_outcomes_run_id", "paybill_fleet_outcomes", ["run_id"])
    op.create_table(
        "paybill_saved_plans",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float, nullable=False),
        sa.Column("created_by", sa.String(120), nullable=False),
        sa.UniqueConstraint("stack", "name", name="paybill_saved_plan_once"),
    )


def downgrade() -> None:
    op.drop_table("paybill_saved_plans")
    op.drop_table("paybill_fleet_outcomes")
    op.drop_table("paybill_fleet_runs")
