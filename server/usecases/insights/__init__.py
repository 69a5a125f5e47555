"""Delivery performance (issue 18): facts recorded with the state changes, ETA accuracy
from the live tracker, and the figures the insights API answers with."""
