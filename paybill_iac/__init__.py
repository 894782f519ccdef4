"""paybill-iac: turn a catalog of plans and tenants into Pulumi stacks.

Importing this package never imports pulumi or a cloud SDK; the commands that need them import
them lazily.
"""

__version__ = "0.1.0"
