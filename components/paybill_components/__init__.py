"""Pulumi component resources for multi-tenant SaaS: silo, pooled and bridge tenants and the cells
they share, on AWS, Azure (azure-native), Google Cloud and Oracle Cloud."""

from paybill_components.args import CellArgs, DatabaseArgs, Placement, TenantArgs
from paybill_components.topology import BridgeTenant, Cell, PooledTenant, SiloTenant, Tenant

__all__ = [
    "BridgeTenant", "Cell", "CellArgs", "DatabaseArgs", "Placement", "PooledTenant", "SiloTenant",
    "Tenant", "TenantArgs",
]
