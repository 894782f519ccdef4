"""paybill-cell: one stack per cell, built from its generated Pulumi.<cell>.yaml."""

from paybill_components.stack import cell_program

cell_program()
