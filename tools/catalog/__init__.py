"""`python -m tools.catalog`: refresh, validate, diff and import price catalogs (design 4, 13)."""
