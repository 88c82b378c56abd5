"""tricloud placement optimizer (pure Python, never imports Pulumi)."""
