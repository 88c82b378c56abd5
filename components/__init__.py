"""tricloud Pulumi components (design section 8)."""
