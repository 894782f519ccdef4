"""Google Cloud building blocks for paybill components (pulumi-gcp): see `blocks` for the handle keys
and `iam` for what a tenant identity is granted."""

from paybill_components.gcp.blocks import GcpBlocks

__all__ = ["GcpBlocks"]
