"""What the server does, told by the edges: the ingest pipeline, order changes,
notifications, ETA learning, maintenance, credential revocation."""
