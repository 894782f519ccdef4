"""Oracle Cloud Infrastructure building blocks for the paybill-iac topologies (pulumi-oci)."""

from paybill_components.oci.blocks import OciBlocks

__all__ = ["OciBlocks"]
