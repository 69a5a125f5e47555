// Moves a marker smoothly from where it is shown to each new fix (requestAnimationFrame),
// instead of jumping. Long jumps, hidden tabs and reduced-motion users get a plain move.

const MIN_MS = 300;
const MAX_MS = 5000;
const MAX_GLIDE_M = 2000;
const reducedMotion = window.matchMedia?.("(prefers-reduced-motion: reduce)");

function metresBetween([lat1, lon1], [lat2, lon2]) {
  const rad = Math.PI / 180;
  const x = (lon2 - lon1) * rad * Math.cos(((lat1 + lat2) / 2) * rad);
  const y = (lat2 - lat1) * rad;
  return Math.hypot(x, y) * 6371000;
}

export class Glide {
  // show([lat, lon]) draws the marker at a position, called once per animation frame.
  constructor(show) {
    this.show = show;
    this.current = null;
    this.frame = 0;
    this.lastFixAt = 0;
  }

  // Glide to `target` over about the time since the previous fix.
  to(target) {
    const now = performance.now();
    const sinceLast = this.lastFixAt ? now - this.lastFixAt : 0;
    const from = this.current;
    const instant =
      from === null ||
      document.hidden ||
      reducedMotion?.matches ||
      metresBetween(from, target) > MAX_GLIDE_M;
    cancelAnimationFrame(this.frame);
    if (instant) {
      this.jump(target);
      return;
    }
    this.lastFixAt = now;
    const durationMs = Math.min(MAX_MS, Math.max(MIN_MS, sinceLast || 1000));
    const start = now;
    const step = (time) => {
      const progress = Math.min(1, Math.max(0, (time - start) / durationMs));
      this.current = [
        from[0] + (target[0] - from[0]) * progress,
        from[1] + (target[1] - from[1]) * progress,
      ];
      this.show(this.current);
      if (progress < 1) this.frame = requestAnimationFrame(step);
    };
    this.frame = requestAnimationFrame(step);
  }

  jump(target) {
    cancelAnimationFrame(this.frame);
    this.lastFixAt = performance.now();
    this.current = [target[0], target[1]];
    this.show(this.current);
  }

  stop() {
    cancelAnimationFrame(this.frame);
    this.current = null;
    this.lastFixAt = 0;
  }
}
