"""Where courier fixes enter: the WebSocket, plain HTTP batches (and later phone-app protocols)."""
