"""Renames without replacement: aliases keep a renamed or moved resource's URN (README "Versioning").

A resource's URN is made of its type, its name and its parents' types. Change any of them and
Pulumi sees a new resource: it would create the new one and delete the old one, which for a
cluster or a protected bucket is an outage or a failed update. An alias names the old identity,
so the engine treats the renamed resource as the same one and only updates it.

Two cases:

- tricloud renames or moves a component class (a minor release): the old type token goes into
  `ALIASES` here, and the component adds it to its own options, so every user's stack keeps its
  URNs without a code change. The children follow: the engine derives each child's old URN
  from its parent's aliases.

      ALIASES = {"tricloud:index:InferenceService": (pulumi.Alias(type_="tricloud:index:GpuService"),)}

- a user renames a component instance or moves it under another parent: pass `renamed(...)`
  as (or merged into) its options.

      InferenceService("chat", args, renamed("chat-70b", opts))
"""

import pulumi

# Current type token -> aliases for what the component was called before. Empty today (no
# component has been renamed since 0.1); an entry stays until the next major version.
ALIASES: dict[str, tuple[pulumi.Alias, ...]] = {}

_KEEP = object()


def component_opts(
    type_token: str, opts: pulumi.ResourceOptions | None
) -> pulumi.ResourceOptions | None:
    """`opts` plus the aliases `ALIASES` lists for `type_token` (`opts` itself when none)."""
    aliases = ALIASES.get(type_token)
    if not aliases:
        return opts
    return pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(aliases=list(aliases)))


def renamed(
    old_name: str | None = None,
    opts: pulumi.ResourceOptions | None = None,
    *,
    old_type: str | None = None,
    old_parent: object = _KEEP,
) -> pulumi.ResourceOptions:
    """Options for a resource whose name, type or parent changed: `opts` plus one alias naming
    its previous identity.

    `old_name`: the name it was declared with; `old_type`: its previous type token;
    `old_parent`: its previous parent resource, or `pulumi.ROOT_STACK_RESOURCE` when it was
    declared at the top of the program. Anything not given is taken as unchanged.
    """
    if old_name is None and old_type is None and old_parent is _KEEP:
        raise ValueError("renamed(): say what changed (old_name, old_type or old_parent)")
    kwargs: dict = {}
    if old_name is not None:
        kwargs["name"] = old_name
    if old_type is not None:
        kwargs["type_"] = old_type
    if old_parent is not _KEEP:
        kwargs["parent"] = old_parent
    return pulumi.ResourceOptions.merge(
        opts, pulumi.ResourceOptions(aliases=[pulumi.Alias(**kwargs)])
    )
