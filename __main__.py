"""tricloud: stack config -> placement plan -> clusters and workloads (design 2).

Wiring only. The settings loader validates every config value before anything is declared;
bad config or an infeasible placement exits 2 with one line per problem.
"""

import pulumi

from components.platform import Platform, solve_plan
from components.settings import load
from optimizer.plan import money

settings = load()
plan = solve_plan(settings)
platform = Platform("tricloud", plan, settings)

# solver.seconds is left out so that an unchanged stack previews with no output diff.
pulumi.export("placement", plan.to_json(include_seconds=False))
# the placement's own total, rounded to the cent as in the plan JSON
pulumi.export("monthlyCostUsd", money(plan.cost.total))
# The policy pack's monthly-cost-limit falls back to this budget when its config sets none.
pulumi.export("monthlyBudgetUsd", settings.scenario.placement.monthly_budget_usd)
pulumi.export("endpoints", platform.endpoints)
pulumi.export("hostnames", platform.hostnames)
pulumi.export("buckets", platform.datasets.buckets)
pulumi.export("kubeconfigs", platform.kubeconfigs)
