// The route ahead of the courier. It comes cut by the server (clear of other customers'
// stops, from the courier on); what the courier drives past afterwards is trimmed here:
// forward only, from the first segment the courier is near, so a later pass along the
// same street never jumps ahead. Pure: [lat, lon] points in, points out.
const TRIM_NEAR_M = 50;

function nearestOn(a, b, p) {
  // Flat metres around p: fine over one street segment.
  const kx = 111320 * Math.cos((p[0] * Math.PI) / 180);
  const ky = 110574;
  const ax = (a[1] - p[1]) * kx;
  const ay = (a[0] - p[0]) * ky;
  const dx = (b[1] - a[1]) * kx;
  const dy = (b[0] - a[0]) * ky;
  const length2 = dx * dx + dy * dy;
  const t = length2 > 0 ? Math.min(1, Math.max(0, -(ax * dx + ay * dy) / length2)) : 0;
  return { t, m: Math.hypot(ax + t * dx, ay + t * dy) };
}

// `points` of the route, `here` the courier ([lat, lon] or null), `from` the segment the
// last trim stopped at. Returns {points: what is ahead, cut: the segment to start from next}.
export function ahead(points, here, from) {
  if (!here || points.length < 2) return { points, cut: from };
  let best = null;
  for (let i = Math.min(from, points.length - 2); i < points.length - 1; i++) {
    const hit = nearestOn(points[i], points[i + 1], here);
    if (best && hit.m >= best.m) break; // past the nearest approach of this pass
    if (hit.m <= TRIM_NEAR_M) best = { i, ...hit };
    else if (best) break;
  }
  if (!best) return { points: points.slice(Math.min(from, points.length - 2)), cut: from };
  const [a, b] = [points[best.i], points[best.i + 1]];
  const cut = [a[0] + (b[0] - a[0]) * best.t, a[1] + (b[1] - a[1]) * best.t];
  return { points: [cut, ...points.slice(best.i + 1)], cut: best.i };
}
