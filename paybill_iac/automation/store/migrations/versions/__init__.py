"""One file per schema change (Alembic revisions), oldest first: 0001, 0002..."""
