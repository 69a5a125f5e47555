"""REST endpoints for dispatchers and operators."""
