"""`wacket sync`: one-way mirrors through rsync and two-way synchronization with per-pair state.

A job (job.py: from the command line or a [sync.NAME] profile, profiles.py) is run by run.py under
its lock and journal entry. One-way: oneway.py (the rsync mirror and its deletion guard; wacket.transport.rsync
runs rsync and reads its records), oneway_plan.py (--plan/--apply for a mirror). Two-way:
twoway.py runs sides.py (each side prepared and scanned through the remote helper), decide.py (the
per-path decisions against the state, state.py), execute.py (carrying the plan out; trash.py names
what it keeps). planfile.py reads and writes plan files; endpoints.py parses SRC and DEST; the
library returns records and reports, and cli/sync.py renders them.
"""
