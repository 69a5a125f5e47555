// The basemap's style: the server's vector tiles (/tiles, a small subset of the OpenMapTiles
// schema written by `tracker tiles build`) drawn by protomaps-leaflet on canvas. Quiet on
// purpose: pale land, soft water and green, white streets with thin casings and grey names,
// so couriers, routes and stops drawn over it stay the most visible things on the map.
// Works with any OpenMapTiles-schema tiles (an operator's own vector tile server too).

const COLORS = {
  background: "#f3f1ed",
  water: "#c7dbe8",
  waterway: "#b3cde0",
  green: "#dde8d5",
  wood: "#d3e2cb",
  landuse: "#ece9e3",
  building: "#e6e2dc",
  buildingEdge: "#d6d1c8",
  casing: "#d2cdc4",
  road: "#ffffff",
  major: "#fcf7ea",
  path: "#cfc9bf",
  rail: "#bdb7ad",
  label: "#6b6760",
  placeLabel: "#8a847b",
  halo: "#ffffff",
};

// Width in pixels at zoom z, interpolated linearly between [zoom, px] stops.
function widths(stops) {
  return (z) => {
    if (z <= stops[0][0]) return stops[0][1];
    for (let i = 1; i < stops.length; i += 1) {
      const [z1, w1] = stops[i];
      if (z <= z1) {
        const [z0, w0] = stops[i - 1];
        return w0 + ((w1 - w0) * (z - z0)) / (z1 - z0);
      }
    }
    return stops[stops.length - 1][1];
  };
}

const ROADS = {
  motorway: widths([[6, 0.8], [12, 2.5], [15, 7], [18, 18]]),
  trunk: widths([[7, 0.6], [12, 2.2], [15, 6.5], [18, 17]]),
  primary: widths([[8, 0.5], [12, 2], [15, 6], [18, 16]]),
  secondary: widths([[9, 0.5], [12, 1.6], [15, 5], [18, 14]]),
  tertiary: widths([[11, 0.5], [13, 1.6], [15, 4.5], [18, 12]]),
  minor: widths([[12, 0.4], [14, 1.6], [16, 4], [18, 10]]),
  service: widths([[13, 0.4], [15, 1.5], [18, 6]]),
  track: widths([[13, 0.4], [15, 1.2], [18, 4]]),
};
const MAJOR = new Set(["motorway", "trunk", "primary", "secondary"]);
const hasClass = (...classes) => (z, f) => classes.includes(f.props.class);

export function basemapStyle(P) {
  const paintRules = [
    { dataLayer: "landuse", symbolizer: new P.PolygonSymbolizer({ fill: COLORS.landuse }) },
    {
      dataLayer: "landcover",
      symbolizer: new P.PolygonSymbolizer({ fill: (z, f) => (f.props.class === "wood" ? COLORS.wood : COLORS.green) }),
    },
    { dataLayer: "park", symbolizer: new P.PolygonSymbolizer({ fill: COLORS.green }) },
    { dataLayer: "water", symbolizer: new P.PolygonSymbolizer({ fill: COLORS.water }) },
    {
      dataLayer: "waterway",
      symbolizer: new P.LineSymbolizer({ color: COLORS.waterway, width: widths([[11, 0.5], [16, 3]]) }),
    },
    {
      dataLayer: "building",
      minzoom: 14,
      symbolizer: new P.PolygonSymbolizer({ fill: COLORS.building, stroke: COLORS.buildingEdge, width: 0.5 }),
    },
    {
      dataLayer: "transportation",
      filter: hasClass("path"),
      minzoom: 15,
      symbolizer: new P.LineSymbolizer({ color: COLORS.path, width: widths([[15, 0.6], [18, 1.5]]), dash: [2, 2] }),
    },
    {
      dataLayer: "transportation",
      filter: hasClass("rail"),
      symbolizer: new P.LineSymbolizer({ color: COLORS.rail, width: widths([[11, 0.5], [16, 1.5]]) }),
    },
  ];
  // Casings first, every class, then the fills: crossings join cleanly.
  const classes = Object.keys(ROADS).reverse();
  for (const cls of classes) {
    const width = ROADS[cls];
    paintRules.push({
      dataLayer: "transportation",
      filter: hasClass(cls),
      minzoom: 12,
      symbolizer: new P.LineSymbolizer({ color: COLORS.casing, width: (z) => width(z) + (z >= 14 ? 1.5 : 1) }),
    });
  }
  for (const cls of classes) {
    paintRules.push({
      dataLayer: "transportation",
      filter: hasClass(cls),
      symbolizer: new P.LineSymbolizer({
        color: (z) => (z < 12 ? COLORS.casing : MAJOR.has(cls) ? COLORS.major : COLORS.road),
        width: ROADS[cls],
      }),
    });
  }
  const halo = { fill: COLORS.label, stroke: COLORS.halo, width: 2.5 };
  // Place names thin out as the map zooms out: the city first, districts from zoom 14,
  // neighbourhoods from 16 (earlier rules win where labels would collide).
  const place = (fontSize, fontWeight, uppercase) =>
    new P.CenteredTextSymbolizer({
      ...halo,
      fill: COLORS.placeLabel,
      fontFamily: "sans-serif",
      fontWeight,
      fontSize,
      textTransform: uppercase ? "uppercase" : undefined,
    });
  const labelRules = [
    { dataLayer: "place", filter: hasClass("city", "town"), symbolizer: place(15, 600, false) },
    {
      dataLayer: "place",
      minzoom: 14,
      filter: hasClass("village", "suburb"),
      symbolizer: place(11, 600, true),
    },
    {
      dataLayer: "place",
      minzoom: 16,
      filter: hasClass("quarter", "neighbourhood"),
      symbolizer: place(10, 600, true),
    },
    {
      dataLayer: "transportation_name",
      minzoom: 14,
      symbolizer: new P.LineLabelSymbolizer({ ...halo, fontFamily: "sans-serif", fontSize: 11 }),
    },
  ];
  return { paintRules, labelRules, backgroundColor: COLORS.background };
}
