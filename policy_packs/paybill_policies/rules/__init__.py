"""The rule library: importing this package registers every rule in `paybill_policies.registry.REGISTRY`
(the `paybill_policies` package imports it, so any use of the library has every rule).

    common     the families every cloud has (markers, other tenants' names, region, catalog entry,
               database count, agent allow-list, protected data, resource cap, cell stacks)
    database   plan-limits families of the dedicated database (isolation, vCPUs, storage, backups)
    settings   tenant-isolation family of settings a resource must hold (keys, rotation, deletion
               protection, public flags, TLS)
    aws, azure, gcp, oci   one cloud's rules that are more than a row of a family

Each family is a table, one row per cloud with the rule's literal id, driving one validator. Which
types hold data, take markers, are database instances or may be created by an agent comes from
paybill_iac.model.resource_facts.
"""

from paybill_policies.rules import aws, azure, common, database, gcp, oci, settings

__all__ = ["aws", "azure", "common", "database", "gcp", "oci", "settings"]
