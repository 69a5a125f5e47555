-- The tracker's basemap: what a delivery map needs under its couriers, routes and stops
-- (streets and their names, water, green, buildings, place names), in a small subset of
-- the OpenMapTiles schema (https://openmaptiles.org/schema/: layer and class names).
-- For tilemaker 2.x (`tracker tiles build` runs it with config.json beside this file).

node_keys = { "place" }

function Set(list)
	local set = {}
	for _, l in ipairs(list) do set[l] = true end
	return set
end

function init_function()
end

function exit_function()
end

-- place=* nodes: the labels a courier map needs to orient itself
placeZoom = { city = 6, town = 9, village = 11, suburb = 11, quarter = 13, neighbourhood = 13 }

function node_function(node)
	local place = node:Find("place")
	local minzoom = placeZoom[place]
	local name = node:Find("name")
	if minzoom and name ~= "" then
		node:Layer("place", false)
		node:Attribute("class", place)
		node:Attribute("name", name)
		node:MinZoom(minzoom)
	end
end

-- highway=* -> transportation class, and the zoom it appears from
roadClass = {
	motorway = "motorway", motorway_link = "motorway",
	trunk = "trunk", trunk_link = "trunk",
	primary = "primary", primary_link = "primary",
	secondary = "secondary", secondary_link = "secondary",
	tertiary = "tertiary", tertiary_link = "tertiary",
	unclassified = "minor", residential = "minor", living_street = "minor", road = "minor",
	pedestrian = "path", service = "service", track = "track",
	footway = "path", path = "path", cycleway = "path", steps = "path", bridleway = "path",
}
classZoom = {
	motorway = 6, trunk = 7, primary = 8, secondary = 9, tertiary = 11, minor = 12,
	service = 13, track = 13, path = 14, rail = 11,
}
waterLanduse = Set { "reservoir", "basin", "salt_pond" }
landuseClass = Set { "residential", "commercial", "retail", "industrial", "cemetery", "railway",
	"hospital", "school", "university", "college", "garages", "construction" }
landcoverClass = {
	wood = "wood", forest = "wood", scrub = "wood",
	grass = "grass", meadow = "grass", grassland = "grass", village_green = "grass",
	recreation_ground = "grass", heath = "grass", farmland = "farmland", orchard = "farmland",
	vineyard = "farmland", allotments = "farmland", sand = "sand", beach = "sand",
}
parkClass = Set { "park", "garden", "pitch", "playground", "golf_course", "nature_reserve" }

function way_function(way)
	local highway = way:Find("highway")
	local railway = way:Find("railway")
	local waterway = way:Find("waterway")
	local natural = way:Find("natural")
	local landuse = way:Find("landuse")
	local leisure = way:Find("leisure")
	local building = way:Find("building")
	local closed = way:IsClosed()

	local class = roadClass[highway]
	if railway == "rail" or railway == "light_rail" or railway == "tram" or railway == "subway" then
		class = "rail"
	end
	if class and not (closed and way:Find("area") == "yes") then
		way:Layer("transportation", false)
		way:Attribute("class", class)
		way:MinZoom(classZoom[class])
		if class == "rail" then way:Attribute("subclass", railway) end
		if way:Find("bridge") ~= "" and way:Find("bridge") ~= "no" then
			way:Attribute("brunnel", "bridge")
		elseif way:Find("tunnel") ~= "" and way:Find("tunnel") ~= "no" then
			way:Attribute("brunnel", "tunnel")
		end
		local oneway = way:Find("oneway")
		if oneway == "yes" or oneway == "1" then way:AttributeNumeric("oneway", 1)
		elseif oneway == "-1" then way:AttributeNumeric("oneway", -1) end
		local name = way:Find("name")
		if name ~= "" and class ~= "rail" and class ~= "path" then
			way:Layer("transportation_name", false)
			way:Attribute("class", class)
			way:Attribute("name", name)
			way:MinZoom(math.max(classZoom[class], 13))
		end
		return
	end

	if waterway == "river" or waterway == "canal" or waterway == "stream" then
		way:Layer("waterway", false)
		way:Attribute("class", waterway)
		if waterway == "stream" then way:MinZoom(13) end
		return
	end

	if not closed then return end

	if natural == "water" or natural == "bay" or waterway == "riverbank" or waterway == "dock"
		or waterLanduse[landuse] then
		way:Layer("water", true)
		local water = way:Find("water")
		if water == "river" or waterway == "riverbank" then way:Attribute("class", "river")
		else way:Attribute("class", "lake") end
		SetMinZoomByArea(way)
		return
	end
	if parkClass[leisure] or way:Find("boundary") == "national_park" then
		way:Layer("park", true)
		way:Attribute("class", leisure ~= "" and leisure or "park")
		SetMinZoomByArea(way)
		return
	end
	local cover = landcoverClass[landuse] or landcoverClass[natural] or landcoverClass[leisure]
	if cover then
		way:Layer("landcover", true)
		way:Attribute("class", cover)
		SetMinZoomByArea(way)
		return
	end
	if landuseClass[landuse] or landuseClass[way:Find("amenity")] then
		way:Layer("landuse", true)
		way:Attribute("class", landuseClass[landuse] and landuse or way:Find("amenity"))
		SetMinZoomByArea(way)
		return
	end
	if building ~= "" and building ~= "no" then
		way:Layer("building", true)
		way:MinZoom(13)
	end
end

-- Smaller areas appear later: from the zoom where they cover about a pixel.
function SetMinZoomByArea(way)
	local area = way:Area()
	if area > 2445.98 ^ 2 then way:MinZoom(6)
	elseif area > 611.5 ^ 2 then way:MinZoom(8)
	elseif area > 152.9 ^ 2 then way:MinZoom(10)
	elseif area > 38.2 ^ 2 then way:MinZoom(12)
	else way:MinZoom(13) end
end
