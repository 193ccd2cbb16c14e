"""`wacket sync`: one-way mirrors through rsync and two-way synchronization with per-pair state.

Modules: endpoints (SRC/DEST specs), rsync (argument lists, itemize parsing), oneway (the mirror and
its deletion guard), scan (both sides' listings through the remote helper), state (the per-pair
state file), twoway (decisions), plan (the plan file and carrying it out), trash (names and times),
profiles ([sync.NAME] sections of the config).
"""
