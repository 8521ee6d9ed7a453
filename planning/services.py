"""Planning services: the public contract of events, targets, runs, progress and needs.

Callers (views, admin actions, management commands, tests) use these names and only these;
each is defined in the module named for what it holds, beside this one:

- planning/targets.py: production and assembly targets (set = upsert, list, delete), one
  implementation for both kinds described in planning/kinds.py;
- planning/runs.py: recording runs, the latest runs, taking back a mistaken one;
- planning/progress.py: progress per target, overall counts, the events list;
- planning/needs.py: what an event's assignments need, and applying it as targets;
- planning/dashboard.py: the dashboard's read, sharing what separate reads would fetch again;
- planning/events.py: create, edit, clone and delete events.

The service contract (README, "Transactions"): every public function takes the caller's
database connection as the keyword-only `connection`, runs every query through that
connection's alias, refuses to run outside an atomic block on it and never opens, commits or
rolls back a transaction itself. Bad input is a ValidationError naming the field, an unknown
id the model's DoesNotExist. tests/test_transaction_discipline.py holds every public function
of these modules to it.
"""

from planning.dashboard import EventDashboard, get_event_dashboard
from planning.events import (
    EVENT_HAS_HISTORY,
    EVENT_HAS_RUNS,
    EventDeletionCheck,
    check_event_deletion,
    clone_event,
    create_event,
    delete_event,
    update_event,
)
from planning.needs import (
    AppliedNeeds,
    EventNeeds,
    FinishedGoodNeed,
    RecipeNeed,
    apply_event_needs,
    get_event_needs,
)
from planning.progress import (
    INVALID_RANGE,
    INVALID_WHEN,
    WHEN_CHOICES,
    AssemblyProgress,
    EventWithProgress,
    OverallProgress,
    ProductionProgress,
    get_assembly_progress,
    get_event_overall_progress,
    get_events_with_progress,
    get_production_progress,
    get_target_progress,
)
from planning.runs import (
    RecentRuns,
    RunDetails,
    RunEntry,
    delete_assembly_run,
    delete_production_run,
    delete_run,
    get_recent_runs,
    record_assembly_run,
    record_production_run,
    record_run,
)
from planning.targets import (
    TargetListRow,
    delete_assembly_target,
    delete_production_target,
    delete_target,
    get_assembly_targets,
    get_production_targets,
    get_targets,
    list_assembly_target_rows,
    list_production_target_rows,
    list_target_rows,
    set_assembly_target,
    set_production_target,
    set_target,
)

__all__ = [
    # Targets
    "set_production_target",
    "set_assembly_target",
    "set_target",
    "get_production_targets",
    "get_assembly_targets",
    "get_targets",
    "list_production_target_rows",
    "list_assembly_target_rows",
    "list_target_rows",
    "delete_production_target",
    "delete_assembly_target",
    "delete_target",
    "TargetListRow",
    # Runs
    "record_production_run",
    "record_assembly_run",
    "record_run",
    "RunDetails",
    "get_recent_runs",
    "delete_production_run",
    "delete_assembly_run",
    "delete_run",
    "RunEntry",
    "RecentRuns",
    # Progress
    "get_production_progress",
    "get_assembly_progress",
    "get_target_progress",
    "get_event_overall_progress",
    "get_events_with_progress",
    "ProductionProgress",
    "AssemblyProgress",
    "OverallProgress",
    "EventWithProgress",
    "WHEN_CHOICES",
    "INVALID_WHEN",
    "INVALID_RANGE",
    # Needs and the dashboard
    "get_event_needs",
    "apply_event_needs",
    "get_event_dashboard",
    "RecipeNeed",
    "FinishedGoodNeed",
    "EventNeeds",
    "AppliedNeeds",
    "EventDashboard",
    # Events
    "create_event",
    "update_event",
    "clone_event",
    "check_event_deletion",
    "delete_event",
    "EventDeletionCheck",
    "EVENT_HAS_RUNS",
    "EVENT_HAS_HISTORY",
]
