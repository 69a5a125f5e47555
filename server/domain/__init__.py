"""The order rules every layer shares: the lifecycle state machine and tracking codes.
Pure, like geo/: no I/O."""
