"""`tracker bench`: load generation in separate processes, machine ceilings, a report."""
