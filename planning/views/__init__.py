"""The planner's pages, a module per page: events, dashboard, targets, runs, needs.

Each view parses its input, then works in phases, each its own `transaction.atomic()` opened in
the view body and never in a helper: the write (one service call), then the read that renders
the answer. A refused write is caught outside its atomic block, so it is rolled back before the
error is shown. Helpers that read take the view's transaction as given.
"""
