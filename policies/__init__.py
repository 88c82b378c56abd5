"""tricloud's CrossGuard policy pack `tricloud-guardrails`.

`pack.POLICIES` lists the policies; `__main__.py` serves them to the Pulumi engine; `engine`
runs them in-process through pulumi_policy's analyzer servicer (tests and the offline plan).
Imports `optimizer` for pricing, never `components` or `tools`.
"""
