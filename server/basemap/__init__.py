"""The self-hosted basemap's build: `tracker tiles build FILE.osm.pbf` runs tilemaker with
the config and Lua process file beside this module (config.json, process.lua)."""
