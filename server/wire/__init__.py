"""The public wire contract: typed messages decoded at the edge (courier frames, client
JSON through the depth guard) and encoded once on the way out."""
