"""WebSocket handlers: the courier socket, and the customer and fleet watching sockets."""
