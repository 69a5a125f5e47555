"""The I/O shell of the tracker: HTTP/WebSocket app, store, CLI."""
