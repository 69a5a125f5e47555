"""Bytes to subscribers: the in-process hub, bounded subscribers and the Redis bus.
Knows topics and keys, never orders or drivers."""
