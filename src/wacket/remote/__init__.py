"""Remote work: one stdlib-only helper sent to each host, spoken to in JSON lines."""
