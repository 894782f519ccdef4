"""The catalog on disk: strict YAML loading, cross-file validation, placement and its ledger.

Imports `paybill_iac.model` and nothing above it: the model never knows files exist.
"""

from paybill_iac.catalog.load import load_catalog

__all__ = ["load_catalog"]
