"""Op modules for the remote helper: each is stdlib-only Python >= 3.7 source, not imported here."""
