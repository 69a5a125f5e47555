// An order's proof of delivery (GET /api/orders/{id}/proof): the photo's thumbnail, the
// signature, the recipient, where and when, and whether the courier's action was flagged
// far from the address (its timeline entry's `far`). The images need the API key, so they
// are fetched and shown as data: URLs (the pages' CSP allows those; an <img> cannot send a
// header).

import { dateTime, distance, el } from "../format.js";
import { apiKey, call, problemText } from "./api.js";
import { ui } from "./state.js";

async function imageData(path) {
  // The key goes to this server only, whatever a URL in an answer says.
  if (new URL(path, location.href).origin !== location.origin) throw new Error("not on this server");
  const response = await fetch(path, { headers: { Authorization: `Bearer ${apiKey()}` } });
  if (!response.ok) throw new Error(`HTTP ${response.status}`);
  const blob = await response.blob();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(blob);
  });
}

function picture(image, alt, className) {
  const img = el("img", { alt, className, width: image.width, height: image.height });
  imageData(image.url).then(
    (src) => { img.src = src; },
    (error) => img.replaceWith(el("p", { className: "problem" }, `${alt} could not load (${error.message}).`)),
  );
  return img;
}

function fact(term, value) {
  return [el("dt", {}, term), el("dd", {}, value ?? "–")];
}

// The courier's last delivered (or arrived) entry: where the action happened.
function actionEntry(timeline) {
  return [...(timeline ?? [])].reverse().find((s) => s.status === "delivered" || s.status === "arrived");
}

export async function showProof(order, into) {
  const result = await call("GET", `/api/orders/${order.id}/proof`);
  if (ui.order !== order.id) return; // another order was opened meanwhile
  if (result.status === 404) {
    into.replaceChildren(el("p", { className: "muted" }, "None yet."));
    return;
  }
  if (!result.ok) {
    into.replaceChildren(el("p", { className: "problem", role: "alert" }, problemText(result)));
    return;
  }
  const proof = result.body;
  const action = actionEntry(order.timeline);
  const where = proof.position
    ? `${proof.position.lat.toFixed(5)}, ${proof.position.lon.toFixed(5)}` +
      (proof.distance_m != null ? `, ${distance(proof.distance_m)} from the address` : "")
    : "no recent position from the courier";
  const children = [];
  if (action?.far) {
    children.push(el("p", { className: "problem far-flag" },
      `Far from the address: the courier marked it ${action.status} ${distance(action.distance_m)} away.`));
  }
  children.push(el("dl", { className: "facts" },
    ...fact("Received by", proof.recipient_name || "not given"),
    ...fact("When", dateTime(proof.at)),
    ...fact("Where", where),
    ...fact("Delivery PIN", proof.pin_verified ? "given correctly" : "not asked or not given"),
  ));
  if (proof.photo_thumb) {
    const thumb = picture(proof.photo_thumb, "Photo of the delivery", "proof-photo");
    const full = el("button", { type: "button", className: "secondary" }, "Show the full photo");
    full.addEventListener("click", () => {
      full.disabled = true;
      thumb.replaceWith(picture(proof.photo, "Photo of the delivery, full size", "proof-photo"));
      full.remove();
    });
    children.push(el("figure", {}, thumb, el("figcaption", {}, "Photo at the door"), full));
  }
  if (proof.signature) {
    children.push(el("figure", {}, picture(proof.signature, "Recipient's signature", "proof-signature"),
      el("figcaption", {}, "Signature")));
  }
  into.replaceChildren(...children);
}
