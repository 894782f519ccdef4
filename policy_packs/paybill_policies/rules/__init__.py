"""The rule library: importing this package registers every rule in `paybill_policies.registry.REGISTRY`
(the `paybill_policies` package imports it, so any use of the library has every rule).

    common   rules every cloud has (markers, other tenants' names, region, catalog entry, database
             count, agent allow-list, protection, resource cap, cell stacks)
    aws, azure, gcp, oci   the rules of one cloud's resources
"""

from paybill_policies.rules import aws, azure, common, gcp, oci  # noqa: F401

__all__ = ["aws", "azure", "common", "gcp", "oci"]
