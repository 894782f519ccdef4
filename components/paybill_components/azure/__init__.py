"""Azure building blocks of paybill-iac (pulumi-azure-native 3.x): see `blocks` for the resources and
the keys of every handle, `iam` for the role assignments."""

from paybill_components.azure.blocks import AzureBlocks

__all__ = ["AzureBlocks"]
