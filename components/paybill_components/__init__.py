"""Pulumi component resources for multi-tenant SaaS: silo, pooled and bridge tenants and the cells
they share, on AWS, Azure (azure-native), Google Cloud and Oracle Cloud. They take the stack specs of
`paybill_iac.model.spec` (TenantSpec, CellSpec) and nothing else of the control plane."""

from paybill_components.topology import BridgeTenant, Cell, PooledTenant, SiloTenant, Tenant

__all__ = ["BridgeTenant", "Cell", "PooledTenant", "SiloTenant", "Tenant"]
