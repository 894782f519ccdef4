"""paybill-tenant: one stack per tenant, built from its generated Pulumi.<tenant>.yaml."""

from paybill_components.stack import tenant_program

tenant_program()
