"""Monitor: checks (within a report, across years, deadlines, missing), alerts, schedule."""
