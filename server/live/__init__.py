"""Live state: drivers' runs, trackers and ETAs, the fleet view, what customers may see,
and its sync between processes. Told by use-cases; publishes through transport/."""
