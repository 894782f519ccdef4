"""Drift reports per stack and the first time each drifted resource was seen.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "paybill_drift_reports",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stack", sa.String(200), nullable=False),
        sa.Column("tenant", sa.String(64), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("checked_at", sa.Float, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False),
        sa.Column("plan", sa.String(64), nullable=True),
        sa.Column("cloud", sa.String(16), nullable=True),
        sa.Column("cell", sa.String(64), nullable=True),
        sa.Column("drifted", sa.Integer, nullable=False),
        sa.Column("new_drift", sa.Integer, nullable=False),
        sa.Column("violations", sa.Integer, nullable=False),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_index("ix_paybill_drift_reports_stack", "paybill_drift_reports", ["stack"])
    op.create_table(
        "paybill_drift_seen",
        sa.Column("stack", sa.String(200), primary_key=True),
        sa.Column("urn", sa.String(1000), primary_key=True),
        sa.Column("op", sa.String(40), nullable=False),
        sa.Column("paths", sa.Text, nullable=False),
        sa.Column("first_seen", sa.Float, nullable=False),
        sa.Column("last_seen", sa.Float, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("paybill_drift_seen")
    op.drop_index("ix_paybill_drift_reports_stack", "paybill_drift_reports")
    op.drop_table("paybill_drift_reports")
