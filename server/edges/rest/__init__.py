"""REST handlers: decode and validate the request, check the caller, call a use-case."""
