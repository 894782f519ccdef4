"""AWS building blocks of the paybill topologies (pulumi-aws 7); see `blocks` for the handles' keys."""

from paybill_components.aws.blocks import AwsBlocks

__all__ = ["AwsBlocks"]
