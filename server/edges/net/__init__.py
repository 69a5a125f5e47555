"""Connections below HTTP routing: limits, header deadlines, the direct WebSocket lane."""
