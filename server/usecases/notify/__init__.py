"""Notifications: what to tell whom (events), how it reads (templates), how it travels
(channels), and the worker that drains the transactional outbox."""
