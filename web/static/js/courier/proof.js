// "Delivered": the proof dialog. A photo from the camera (`capture="environment"`) with a
// preview, a signature drawn on a signature_pad canvas, the recipient's name and the
// delivery PIN; queued as a proof upload followed by the "delivered" action. What was
// entered stays until the server accepted it, so a wrong PIN is fixed without retaking
// the photo or the signature.

import { $ } from "./state.js";
import { stopName } from "./run.js";

const PAD_MODULE = "/static/vendor/signature_pad/signature_pad.js";

const form = { stop: null, preview: null, pad: null, padFailed: false };
let queue = async () => {};

async function signaturePad() {
  if (form.pad || form.padFailed) return form.pad;
  try {
    const { default: SignaturePad } = await import(PAD_MODULE);
    form.pad = new SignaturePad($("signature"), { penColor: "#1b1f24", minWidth: 1, maxWidth: 3 });
    form.pad.addEventListener("endStroke", () => {
      $("signature-state").textContent = "Signed.";
    });
  } catch (error) {
    form.padFailed = true;
    $("signature-state").textContent =
      `The signature pad cannot load here (${error.message}); a photo is enough.`;
  }
  return form.pad;
}

// The canvas drawn in device pixels, as signature_pad's documentation asks (sharp lines).
function fitCanvas() {
  const canvas = $("signature");
  const ratio = Math.max(window.devicePixelRatio || 1, 1);
  const width = canvas.offsetWidth * ratio;
  const height = canvas.offsetHeight * ratio;
  if (canvas.width === width && canvas.height === height) return;
  const data = form.pad?.toData();
  canvas.width = width;
  canvas.height = height;
  canvas.getContext("2d").scale(ratio, ratio);
  form.pad?.clear();
  if (data?.length) form.pad.fromData(data);
}

function reset() {
  $("proof-form").reset();
  if (form.preview) URL.revokeObjectURL(form.preview);
  form.preview = null;
  $("proof-preview").hidden = true;
  $("proof-preview").removeAttribute("src");
  form.pad?.clear();
  $("signature-state").textContent = "";
  showError("");
}

export function showError(text) {
  $("proof-error").textContent = text;
  $("proof-error").hidden = !text;
}

export async function openProof(stop, problem = "") {
  if (form.stop?.order_id !== stop.order_id) reset();
  form.stop = stop;
  $("proof-stop").textContent = stopName(stop);
  $("proof-pin-field").hidden = stop.pin_required !== true;
  showError(problem);
  if (!$("proof-dialog").open) $("proof-dialog").showModal();
  await signaturePad();
  fitCanvas();
}

// The server accepted this stop's proof: the next delivery starts blank.
export function proofAccepted(orderId) {
  if (form.stop?.order_id === orderId) {
    reset();
    form.stop = null;
  }
}

function signatureBlob() {
  if (!form.pad || form.pad.isEmpty()) return Promise.resolve(null);
  return new Promise((resolve) => $("signature").toBlob(resolve, "image/png"));
}

async function submit(event) {
  event.preventDefault();
  const stop = form.stop;
  const photo = $("proof-photo").files[0] ?? null;
  const signature = await signatureBlob();
  if (!photo && !signature) {
    showError("Take a photo or have the recipient sign.");
    return;
  }
  const name = stopName(stop);
  const body = {
    photo,
    signature,
    recipientName: $("proof-name").value.trim(),
    pin: $("proof-pin").value.trim(),
  };
  await queue([
    { kind: "proof", orderId: stop.order_id, label: `Proof of delivery · ${name}`, body },
    {
      kind: "status",
      orderId: stop.order_id,
      label: `Delivered · ${name}`,
      body: { status: "delivered" },
    },
  ]);
  $("proof-dialog").close();
}

export function setUpProof(queueEntries) {
  queue = queueEntries;
  $("proof-photo").addEventListener("change", () => {
    const file = $("proof-photo").files[0];
    if (form.preview) URL.revokeObjectURL(form.preview);
    form.preview = file ? URL.createObjectURL(file) : null;
    $("proof-preview").hidden = !file;
    if (file) $("proof-preview").src = form.preview;
  });
  $("signature-clear").addEventListener("click", () => {
    form.pad?.clear();
    $("signature-state").textContent = "";
  });
  $("proof-form").addEventListener("submit", submit);
  $("proof-cancel").addEventListener("click", () => $("proof-dialog").close());
  window.addEventListener("resize", () => $("proof-dialog").open && fitCanvas());
}
