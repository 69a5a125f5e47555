"""Orders: lifecycle, tracking codes, the dispatcher REST API and the public tracking view."""
