"""Operator commands: the offline plan (`tools.plan`) and the price catalog (`tools.catalog`, which imports no Pulumi package)."""
