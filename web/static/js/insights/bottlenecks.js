// PLACEHOLDER for the bottleneck layers (issue 18, built on another branch): slow roads,
// long dwell, late or failed hotspots (`GET /api/insights/bottlenecks?layer=slow|dwell|late`)
// and the hour-of-week heat map (`GET /api/insights/heatmap`), on a map in the
// #bottlenecks panel of insights.html (hidden until this module shows it). main.js calls
// `showBottlenecks(view)` after every load with the view on screen; today it does nothing.

export function showBottlenecks(view) {
  // Draw the layers for view.from..view.to (and view.driver_id, view.zone) here, then
  // unhide document.getElementById("bottlenecks").
}
