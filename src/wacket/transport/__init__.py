"""One transport for every capability: sessions to hosts (local or SSH), fan-out, rsync arguments."""
