"""The demo fleet: simulated couriers on real streets speaking the real protocols.

Route data: server/sim/data/porto_runs.json, derived from OpenStreetMap (© OpenStreetMap
contributors, ODbL 1.0) by scripts/make_demo_routes.py.
"""
