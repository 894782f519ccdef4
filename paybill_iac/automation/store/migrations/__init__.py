"""The state database's migrations (Alembic): `versions/` holds one file per schema change, applied in
order by `paybill_iac.automation.store.migrate`. They own the schema: a change to the tables declared in
`store/db.py` (or `store/principals.py`) is a new file here, never an edit of an old one."""
