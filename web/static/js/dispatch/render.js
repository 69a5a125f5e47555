// Redrawing coalesced into one animation frame: a delta touches the DOM once however many
// drivers it carries. What a frame draws (the list, then the open detail) is set by main.js.

let draw = () => {};
let pending = false;

export function setRender(render) {
  draw = render;
}

export function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    draw();
  });
}
