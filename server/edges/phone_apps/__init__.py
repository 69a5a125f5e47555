"""The phone apps couriers already have: OsmAnd (Traccar Client) and OwnTracks."""
