"""The two Pulumi projects every paybill-iac stack belongs to, and the config namespace of their keys.
Standard library only: the policy packs import it."""

NAMESPACE = "paybill"
TENANT_PROJECT = "paybill-tenant"
"""One stack per tenant, named after the tenant id."""
CELL_PROJECT = "paybill-cell"
"""One stack per cell in use, named after the cell id."""
