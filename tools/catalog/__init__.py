"""`python -m tools.catalog`: refresh, validate, diff and import price catalogs."""
