"""Stage 2: the MILP of design section 6, built from named constraint families.

Every row carries the name of its family, so `explain` can relax a family by name and the
tests can look at one family at a time. The matrix is assembled row-wise in plain arrays and
handed to HiGHS in one call; this module knows nothing about HiGHS itself (see `solver`).

Formulation notes (why it is shaped this way; measured effects are in the commit log):
- Per-(service, region) capacity columns `K[s,r]` carry the routing rows, so each region's
  row has one entry per route into it plus one.
- Survivability is re-routing after a loss, stated as Hall rows over weighted capacity
  columns `W[s,r]` (spot x spotSurvivalFactor; the routing columns K[s,r] when nothing is
  discounted): per failure domain, each connected set of geo neighbourhoods within the
  failover SLO keeps the capacity for the demand confined to it (`failover.requirements`).
  The rows for the whole neighbourhood, `T[s] - (capacity inside the domain) >= demand` with
  one total column `T[s]`, carry tangent cuts of `T >= D K/(K-1)` (K = domains holding
  surviving capacity), which make the LP relaxation pay for spreading thin.
- `y[s,r]` (service s runs in region r) links nodes to clusters: `n <= M y` with the
  tightest valid M per option (`candidates.structural_bounds`, tightened later by the cost of
  a known plan) and `y <= nodes in r`, so a region in use holds at least one whole node even
  in the LP relaxation.
- With `primary: auto` the primary region is chosen by the model. Egress rates depend only on
  the source's and the target's (cloud, continent) groups, so primary x volume is linearised
  per group pair: O(groups^2) columns, not O(regions^2).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from . import failover
from .candidates import Candidates
from .catalog import HOURS_PER_MONTH

INF = math.inf


@dataclass
class Column:
    name: str
    lower: float
    upper: float
    cost: float  # objective coefficient, USD per month
    integer: bool
    billed: float = 0.0  # the part of `cost` that is money billed monthly (budget row)


@dataclass
class Model:
    """A MILP in row-wise form plus the index maps needed to read a solution back."""

    cands: Candidates
    columns: list[Column] = field(default_factory=list)
    row_lower: list[float] = field(default_factory=list)
    row_upper: list[float] = field(default_factory=list)
    row_family: list[str] = field(default_factory=list)
    row_index: list[list[int]] = field(default_factory=list)
    row_value: list[list[float]] = field(default_factory=list)
    # index maps
    n: list[int] = field(default_factory=list)  # option i -> column
    x: list[int] = field(default_factory=list)  # route j -> column
    y: dict[tuple[int, str], int] = field(default_factory=dict)
    open: dict[str, int] = field(default_factory=dict)
    use: dict[tuple[int, str], int] = field(default_factory=dict)
    prim: dict[str, int] = field(default_factory=dict)
    link_rows: dict[int, int] = field(default_factory=dict)  # option i -> its n <= M y row
    capacity: dict[tuple[int, str], int] = field(default_factory=dict)  # K[s,r] columns
    migration_pools: dict[tuple[str, str, str], int] = field(default_factory=dict)
    gke_credit: int | None = None  # column of the GKE free-tier credit (0..1), if claimed

    def add_col(self, name, lower, upper, cost=0.0, integer=False, billed=False) -> int:
        self.columns.append(Column(name, lower, upper, cost, integer, cost if billed else 0.0))
        return len(self.columns) - 1

    def add_billed(self, col: int, amount: float) -> None:
        self.columns[col].cost += amount
        self.columns[col].billed += amount

    def add_row(self, family: str, terms: dict[int, float], lower=-INF, upper=INF) -> int:
        items = sorted((c, v) for c, v in terms.items() if v != 0)
        self.row_family.append(family)
        self.row_index.append([c for c, _ in items])
        self.row_value.append([v for _, v in items])
        self.row_lower.append(lower)
        self.row_upper.append(upper)
        return len(self.row_family) - 1

    @property
    def num_cols(self) -> int:
        return len(self.columns)

    @property
    def num_rows(self) -> int:
        return len(self.row_family)

    def arrays(self):
        """Row-wise CSR arrays (start, index, value) and the column/row vectors."""
        start = np.zeros(self.num_rows + 1, dtype=np.int32)
        start[1:] = np.cumsum([len(ix) for ix in self.row_index])
        index = np.fromiter((c for ix in self.row_index for c in ix), dtype=np.int32)
        value = np.fromiter((v for vs in self.row_value for v in vs), dtype=np.float64)
        return start, index, value


@dataclass(frozen=True)
class Incumbent:
    """Nodes per option of a previously deployed plan, mapped onto this solve's options."""

    nodes: dict[int, int]  # option index -> nodes
    pool_nodes: dict[tuple[str, str, str], int]  # (region, instance type, pricing) -> nodes


def monthly(price_hr: float) -> float:
    return price_hr * HOURS_PER_MONTH


def cluster_fee(cands: Candidates, region: str) -> float:
    """Monthly cost of one cluster in `region`: the cloud's fees plus the stack's overhead."""
    cloud = region.split("/")[0]
    overhead = cands.scenario.placement.cluster_overhead_usd_per_month
    return cands.catalog.clusters[cloud].monthly_usd + overhead


def replication_volume(cands: Candidates) -> tuple[list[float], float]:
    """Monthly replicated GB: per service (its model, to each serving region), and datasets."""
    sc = cands.scenario
    per_service = [svc.model_size_gb for svc in sc.services]
    datasets = sum(d.daily_change_gb * 30.0 for d in sc.replication.datasets)
    return per_service, datasets


def build(
    cands: Candidates,
    bounds: list[int],
    incumbent: Incumbent | None = None,
) -> Model:
    """Build the MILP for `cands` with per-option node bounds `bounds`."""
    m = Model(cands)
    sc = cands.scenario
    for i, opt in enumerate(cands.options):
        m.n.append(
            m.add_col(
                f"n[{sc.services[opt.service].name},{opt.region},{opt.offering.instance_type},{opt.pricing}]",
                0,
                bounds[i],
                monthly(opt.price_hr),
                integer=True,
                billed=True,
            )
        )
    for route in cands.routes:
        svc = sc.services[route.service]
        m.x.append(
            m.add_col(
                f"x[{svc.name},{route.geo},{route.region}]",
                0,
                svc.demand_rps[route.geo],
                sc.placement.latency_weight_usd_per_ms * route.rtt_ms,
            )
        )
    for r in cands.regions:
        m.open[r] = m.add_col(f"open[{r}]", 0, 1, cluster_fee(cands, r), integer=True, billed=True)
    _gke_free_tier_credit(m)
    for opt in cands.options:
        key = (opt.service, opt.region)
        if key not in m.y:
            m.y[key] = m.add_col(
                f"y[{sc.services[opt.service].name},{opt.region}]", 0, 1, integer=True
            )

    for family in FAMILIES:
        family(m, bounds)
    _egress(m)
    _migration(m, incumbent)
    _budget(m)
    return m


# --- constraint families ---------------------------------------------------------------


def _capacity_columns(m: Model) -> dict[tuple[int, str], int]:
    """K[s,r] = capacity of service s's nodes in region r (a defined continuous column)."""
    cols = m.capacity
    terms: dict[tuple[int, str], dict[int, float]] = {}
    for i, o in enumerate(m.cands.options):
        terms.setdefault((o.service, o.region), {})[m.n[i]] = -o.capacity_rps
    for s, r in sorted(terms):
        cols[(s, r)] = m.add_col(f"K[{m.cands.scenario.services[s].name},{r}]", 0, INF)
        m.add_row("capacity", {cols[(s, r)]: 1.0, **terms[(s, r)]}, 0.0, 0.0)
    return cols


def _demand(m: Model, bounds) -> None:
    """Every geo's demand is routed inside its latency SLO (routes exist only there), and
    the rps routed into a region stay within the service's capacity K[s,r] there."""
    sc = m.cands.scenario
    capacity = _capacity_columns(m)
    by_geo: dict[tuple[int, str], dict[int, float]] = {}
    into: dict[tuple[int, str], dict[int, float]] = {}
    for j, route in enumerate(m.cands.routes):
        by_geo.setdefault((route.service, route.geo), {})[m.x[j]] = 1.0
        into.setdefault((route.service, route.region), {})[m.x[j]] = 1.0
    for s, svc in enumerate(sc.services):
        for geo, rps in svc.demand_rps.items():
            m.add_row("demand", by_geo.get((s, geo), {}), rps, rps)
    for key in sorted(into):
        m.add_row("capacity", {**into[key], capacity[key]: -1.0}, upper=0.0)


def _min_replicas(m: Model, bounds) -> None:
    if "min-replicas" in m.cands.relaxed:
        return
    sc = m.cands.scenario
    for s, svc in enumerate(sc.services):
        # only replicas that can serve count: failover-only regions serve no one normally
        terms = {
            m.n[i]: o.replicas_per_node
            for i, o in enumerate(m.cands.options)
            if o.service == s and not m.cands.failover_only(s, o.region)
        }
        m.add_row("min-replicas", terms, lower=svc.min_replicas)


def _spot_share(m: Model, bounds) -> None:
    """Spot capacity <= maxSpotFraction x all capacity, per service."""
    phi = m.cands.scenario.placement.max_spot_fraction
    if "spot-share" in m.cands.relaxed or phi >= 1:
        return
    for s in range(len(m.cands.scenario.services)):
        terms = {}
        for i, o in enumerate(m.cands.options):
            if o.service == s:
                share = (1 - phi) if o.pricing == "spot" else -phi
                terms[m.n[i]] = share * o.capacity_rps
        if any(o.service == s and o.pricing == "spot" for o in m.cands.options):
            m.add_row("spot-share", terms, upper=0.0)


def _survivability(m: Model, bounds) -> None:
    """After losing any one region (or cloud), every geo's demand can be re-routed to the
    surviving capacity within the failover SLO, spot counted at spotSurvivalFactor.

    Exact, without flow variables: the Hall rows of `failover.requirements` (per failure
    domain, the surviving weighted capacity of every connected geo neighbourhood covers the
    demand confined to it). Too many neighbourhoods: one transport flow per lost domain.
    The total-capacity rows `T - E_f >= D` are among the consequences and stay explicit,
    for the domain-count tangent cuts.
    """
    sc = m.cands.scenario
    survive = sc.placement.survive
    if survive == "none" or "survivability" in m.cands.relaxed:
        return
    sigma = sc.placement.spot_survival_factor
    for s, svc in enumerate(sc.services):
        opts = [(i, o) for i, o in enumerate(m.cands.options) if o.service == s]
        weighted = _weighted_capacity(m, s, sigma)
        total = m.add_col(f"T[{svc.name}]", 0, INF)
        m.add_row("survivability", {total: 1.0, **{c: -1.0 for c in weighted.values()}}, 0.0, 0.0)
        domains: dict[str, dict[int, float]] = {}
        for _, o in opts:
            domains.setdefault(o.domain(survive), {total: 1.0})[weighted[o.region]] = -1.0
        if len(domains) < 2:
            # One domain only: losing it leaves nothing. Keep a row that says so.
            m.add_row("survivability", {}, lower=svc.total_demand)
            continue
        for domain in sorted(domains):
            m.add_row("survivability", domains[domain], lower=svc.total_demand)
        reqs = failover.requirements(m.cands, s)
        if reqs is None:
            _failover_flows(m, s, weighted)
        else:
            for req in reqs:
                terms = {weighted[r]: 1.0 for r in req.regions}
                m.add_row("survivability", terms, lower=req.demand)
        _domain_count_cuts(m, s, total, sorted(domains), bounds, sigma)


def _weighted_capacity(m: Model, s: int, sigma: float) -> dict[str, int]:
    """W[s,r]: service s's capacity in region r as a failure counts it (spot x sigma); the
    routing capacity column K[s,r] itself when no spot option of s is discounted."""
    opts = [(i, o) for i, o in enumerate(m.cands.options) if o.service == s]
    if sigma >= 1 or all(o.pricing == "on-demand" for _, o in opts):
        return {r: col for (s2, r), col in m.capacity.items() if s2 == s}
    terms: dict[str, dict[int, float]] = {}
    for i, o in opts:
        terms.setdefault(o.region, {})[m.n[i]] = -o.capacity_rps * failover.survival_weight(
            o.pricing, sigma
        )
    cols = {}
    name = m.cands.scenario.services[s].name
    for r in sorted(terms):
        cols[r] = m.add_col(f"W[{name},{r}]", 0, INF)
        m.add_row("survivability", {cols[r]: 1.0, **terms[r]}, 0.0, 0.0)
    return cols


def _failover_flows(m: Model, s: int, weighted: dict[str, int]) -> None:
    """Per lost domain, a transport flow of every geo's demand to surviving capacity."""
    sc = m.cands.scenario
    svc = sc.services[s]
    level = sc.placement.survive
    domain_of = {o.region: o.domain(level) for o in m.cands.options if o.service == s}
    routes = [r for r in m.cands.failover_routes if r.service == s]
    for domain in sorted(set(domain_of.values())):
        by_geo: dict[str, dict[int, float]] = {g: {} for g in svc.demand_rps}
        into: dict[str, dict[int, float]] = {}
        for r in routes:
            if domain_of[r.region] == domain:
                continue
            col = m.add_col(f"f[{svc.name},{domain},{r.geo},{r.region}]", 0, INF)
            by_geo[r.geo][col] = 1.0
            into.setdefault(r.region, {})[col] = 1.0
        for geo in sorted(by_geo):
            m.add_row("survivability", by_geo[geo], lower=svc.demand_rps[geo])
        for region in sorted(into):
            m.add_row("survivability", {**into[region], weighted[region]: -1.0}, upper=0.0)


def _domain_count_cuts(
    m: Model, s: int, total: int, domains: list[str], bounds, sigma: float
) -> None:
    """T >= D K / (K - 1) for K failure domains holding surviving capacity, as tangent cuts.

    Summing "T - E_f >= D" over the K domains with E_f > 0 gives T (K - 1) >= K D. The
    bound is convex in K, so its tangents at K = 2, 3, ... are valid linear cuts. They are
    what makes the LP relaxation pay for spreading thin: without them it spreads capacity
    over many regions while paying only a fraction of each cluster's fee. A domain holding
    only spot capacity holds none that survives when spot counts 0, so it is not counted
    then (counting it would weaken every cut).
    """
    sc = m.cands.scenario
    svc = sc.services[s]
    demand = svc.total_demand
    level = sc.placement.survive
    spot_counts = sigma > 0
    options = [(i, o) for i, o in enumerate(m.cands.options) if o.service == s]
    if not spot_counts and any(o.pricing == "spot" for _, o in options):
        # z[s,d] = 1 when domain d holds on-demand nodes of s: n <= M z per on-demand option
        members: dict[str, list[int]] = {}
        for i, o in options:
            if o.pricing != "on-demand":
                continue
            d = o.domain(level)
            if d not in members:
                members[d] = [m.add_col(f"z[{svc.name},{d}]", 0, 1, integer=True)]
            m.add_row("survivability", {m.n[i]: 1.0, members[d][0]: -float(bounds[i])}, upper=0.0)
    elif level == "region":
        members = {r: [m.y[(s, r)]] for r in domains}
    else:
        for (s2, r), ycol in m.y.items():
            if s2 != s:
                continue
            cloud = r.split("/")[0]
            if (s, cloud) not in m.use:
                m.use[(s, cloud)] = m.add_col(f"use[{svc.name},{cloud}]", 0, 1, integer=True)
            # use[s,c] >= y[s,r]: the cloud counts as used when any of its regions is
            m.add_row("survivability", {ycol: 1.0, m.use[(s, cloud)]: -1.0}, upper=0.0)
        members = {c: [m.use[(s, c)]] for c in domains}
    if len(members) < 2:
        return
    count = m.add_col(f"K[{svc.name}]", 2, len(members))
    m.add_row(
        "survivability",
        {count: 1.0, **{c: -1.0 for cols in members.values() for c in cols}},
        0.0,
        0.0,
    )
    for k in range(2, len(members) + 1):
        # tangent of D + D/(K-1) at K = k
        value = demand + demand / (k - 1)
        slope = -demand / (k - 1) ** 2
        m.add_row("survivability", {total: 1.0, count: -slope}, lower=value - slope * k)


def _links(m: Model, bounds) -> None:
    """n <= M y (tight M per option); y <= nodes; y <= open; open <= sum y.

    "y <= nodes" (not replicas) is the stronger of the two valid forms: in the LP relaxation
    a region in use holds at least one whole node, which is most of what keeps the
    relaxation close to integer plans under survivability.
    """
    nodes: dict[tuple[int, str], dict[int, float]] = {}
    for i, o in enumerate(m.cands.options):
        ycol = m.y[(o.service, o.region)]
        m.link_rows[i] = m.add_row("open", {m.n[i]: 1.0, ycol: -float(bounds[i])}, upper=0.0)
        nodes.setdefault((o.service, o.region), {})[m.n[i]] = -1.0
    by_region: dict[str, dict[int, float]] = {}
    for (s, r), ycol in sorted(m.y.items()):
        m.add_row("open", {ycol: 1.0, **nodes[(s, r)]}, upper=0.0)
        m.add_row("open", {ycol: 1.0, m.open[r]: -1.0}, upper=0.0)
        by_region.setdefault(r, {m.open[r]: 1.0})[ycol] = -1.0
    for r in sorted(by_region):
        m.add_row("open", by_region[r], upper=0.0)


def _spread(m: Model, bounds) -> None:
    """Each service runs on at least minClouds distinct clouds."""
    sc = m.cands.scenario
    k = sc.placement.min_clouds
    if k <= 1 or "spread" in m.cands.relaxed:
        return
    for s, svc in enumerate(sc.services):
        clouds: dict[str, dict[int, float]] = {}
        for (s2, r), ycol in m.y.items():
            if s2 == s:
                clouds.setdefault(r.split("/")[0], {})[ycol] = -1.0
        usage = {}
        for cloud in sorted(clouds):
            if (s, cloud) not in m.use:
                m.use[(s, cloud)] = m.add_col(f"use[{svc.name},{cloud}]", 0, 1, integer=True)
            col = m.use[(s, cloud)]
            m.add_row("spread", {col: 1.0, **clouds[cloud]}, upper=0.0)
            usage[col] = 1.0
        m.add_row("spread", usage, lower=k)


def _quota(m: Model, bounds) -> None:
    """GPUs per cloud/region/accelerator within the stack's quota."""
    if "quota" in m.cands.relaxed:
        return
    quotas = m.cands.scenario.placement.quotas_gpu
    terms: dict[str, dict[int, float]] = {}
    for i, o in enumerate(m.cands.options):
        if o.quota_key in quotas:
            terms.setdefault(o.quota_key, {})[m.n[i]] = o.offering.accelerator_count
    for key in sorted(terms):
        m.add_row("quota", terms[key], upper=quotas[key])


def _max_clusters(m: Model, bounds) -> None:
    k = m.cands.scenario.placement.max_clusters
    if k is None or "max-clusters" in m.cands.relaxed:
        return
    m.add_row("max-clusters", {col: 1.0 for col in m.open.values()}, upper=k)


FAMILIES = (
    _demand,
    _min_replicas,
    _spot_share,
    _survivability,
    _links,
    _spread,
    _quota,
    _max_clusters,
)


# --- objective terms that need their own variables ----------------------------------------


def egress_group(cands: Candidates, region: str) -> tuple[str, str]:
    reg = cands.catalog.regions[region]
    return (reg.cloud, reg.continent)


def group_rate(cands: Candidates, group: tuple[str, str], target: str) -> float:
    """USD/GB from any region of `group` to another region `target`."""
    return cands.catalog.egress_from(*group, target)


def _egress(m: Model) -> None:
    """Replication egress: monthly GB into every serving region from the primary."""
    cands = m.cands
    per_service, datasets = replication_volume(cands)
    if datasets == 0 and not any(per_service):
        return
    primary = cands.scenario.replication.primary
    # Volume carriers: (column, GB) — y[s,r] carries service s's model, open[r] the datasets.
    carriers: dict[str, list[tuple[int, float]]] = {r: [] for r in cands.regions}
    for (s, r), ycol in m.y.items():
        if per_service[s]:
            carriers[r].append((ycol, per_service[s]))
    if datasets:
        for r, col in m.open.items():
            carriers[r].append((col, datasets))
    if primary != "auto":
        for r in cands.regions:
            rate = cands.catalog.egress_usd_per_gb(primary, r)
            for col, gb in carriers[r]:
                m.add_billed(col, gb * rate)
        return
    # primary: auto — one binary per candidate region, in an open region.
    for r in cands.regions:
        m.prim[r] = m.add_col(f"primary[{r}]", 0, 1, integer=True)
        m.add_row("replication", {m.prim[r]: 1.0, m.open[r]: -1.0}, upper=0.0)
    m.add_row("replication", {col: 1.0 for col in m.prim.values()}, 1.0, 1.0)
    # Rates depend only on the source's and target's (cloud, continent) groups, so the
    # product (primary in group G) x (volume into group H) is linearised per group pair:
    # w[G,H] <= Vmax[H] * primary-in-G and sum_G w[G,H] = V[H]. Exact for integer primary,
    # and O(groups^2) columns instead of O(regions^2).
    groups: dict[tuple[str, str], list[str]] = {}
    for r in cands.regions:
        groups.setdefault(egress_group(cands, r), []).append(r)
    for target in sorted(groups):
        volume = {col: -gb for r in groups[target] for col, gb in carriers[r]}
        vmax = -sum(volume.values())
        split = {}
        for source in sorted(groups):
            rate = group_rate(cands, source, groups[target][0])
            w = m.add_col(
                f"egress[{'/'.join(source)}->{'/'.join(target)}]", 0, vmax, rate, billed=True
            )
            m.add_row(
                "replication", {w: 1.0, **{m.prim[p]: -vmax for p in groups[source]}}, upper=0.0
            )
            split[w] = 1.0
        m.add_row("replication", {**split, **volume}, 0.0, 0.0)
    # The primary's own region was charged its group's own rate: credit it back.
    for r in cands.regions:
        own = {col: -gb for col, gb in carriers[r]}
        if not own:
            continue
        rate = group_rate(cands, egress_group(cands, r), r)
        credit = m.add_col(f"egress-credit[{r}]", 0, INF, -rate, billed=True)
        m.add_row("replication", {credit: 1.0, **own}, upper=0.0)
        m.add_row("replication", {credit: 1.0, m.prim[r]: sum(own.values())}, upper=0.0)


def _migration(m: Model, incumbent: Incumbent | None) -> None:
    """migrationCostUsdPerNode x |nodes - incumbent nodes| per pool, linearised."""
    cost = m.cands.scenario.placement.stability.migration_cost_usd_per_node
    if incumbent is None or cost == 0:
        return
    pools: dict[tuple[str, str, str], dict[int, float]] = {}
    for i, o in enumerate(m.cands.options):
        if o.pool_key in incumbent.pool_nodes:
            pools.setdefault(o.pool_key, {})[m.n[i]] = 1.0
        else:
            m.columns[m.n[i]].cost += cost  # |n - 0| = n
    for pool in sorted(incumbent.pool_nodes):
        have = incumbent.pool_nodes[pool]
        dev = m.add_col(f"migration[{'/'.join(pool)}]", 0, INF, cost)
        m.migration_pools[pool] = dev
        terms = pools.get(pool, {})
        m.add_row("migration", {dev: 1.0, **{c: -1.0 for c in terms}}, lower=-have)
        m.add_row("migration", {dev: 1.0, **terms}, lower=have)


def _gke_free_tier_credit(m: Model) -> None:
    """placement.gkeFreeTierCredit: one open GKE cluster's management fee is credited (the
    billing account's free tier, once per stack however many GKE clusters it runs)."""
    sc = m.cands.scenario
    gcp = [col for r, col in m.open.items() if r.startswith("gcp/")]
    if not sc.placement.gke_free_tier_credit or not gcp:
        return
    credit = m.cands.catalog.clusters["gcp"].gke_free_tier_credit_usd
    m.gke_credit = m.add_col("gke-free-tier-credit", 0, 1, -credit, billed=True)
    m.add_row("gke-free-tier-credit", {m.gke_credit: 1.0, **{c: -1.0 for c in gcp}}, upper=0.0)


def _budget(m: Model) -> None:
    """Billed monthly cost (compute, clusters with overhead, egress) <= monthlyBudgetUsd."""
    budget = m.cands.scenario.placement.monthly_budget_usd
    if budget is None or "budget" in m.cands.relaxed:
        return
    m.add_row("budget", {col: c.billed for col, c in enumerate(m.columns)}, upper=budget)
