"""Where requests and sockets enter: decode, authorise, hand on to a use-case.

rest/ (REST handlers), sockets/ (courier and watching sockets), phone_apps/ (OsmAnd and
OwnTracks), net/ (connection limits, the direct WebSocket lane), pages.py (HTML pages)."""
