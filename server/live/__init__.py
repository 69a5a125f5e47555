"""Live fan-out: the hub, bounded subscribers, the fleet view and drivers' runs."""
