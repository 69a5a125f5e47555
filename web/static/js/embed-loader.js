// The tracking widget for a shop's page: put
//   <div data-tracking-code="7KQ2-M9XD-3HVA-PR4T" data-lang="de"></div>
//   <script src="https://tracking.example/static/js/embed-loader.js" async></script>
// and each such element gets an iframe of https://tracking.example/embed/<code>, sized to its
// content. The shop's origin must be in the server's TRACKER_EMBED_ORIGINS (docs/pages.md).
// A classic script, not a module: it runs on the shop's page, with no imports.
(() => {
  const script = document.currentScript;
  if (!script) return;
  const origin = new URL(script.src).origin;
  const CODE = /^[0-9A-Za-z][0-9A-Za-z-]{7,40}$/;
  const LANG = /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
  const frames = [];

  function insert() {
    for (const holder of document.querySelectorAll("[data-tracking-code]")) {
      if (holder.querySelector("iframe[data-tracker-embed]")) continue;
      const code = (holder.dataset.trackingCode || "").trim();
      if (!CODE.test(code)) continue;
      const url = new URL(`/embed/${encodeURIComponent(code)}`, origin);
      const lang = holder.dataset.lang || "";
      if (LANG.test(lang)) url.searchParams.set("lang", lang);
      const iframe = document.createElement("iframe");
      iframe.src = url.href;
      iframe.title = holder.dataset.title || "Delivery tracking";
      iframe.dataset.trackerEmbed = "";
      iframe.style.cssText = "display:block;width:100%;height:320px;border:0;";
      holder.append(iframe);
      frames.push(iframe);
    }
  }

  // The widget says how tall it is; nothing else is accepted, and only from its own origin.
  window.addEventListener("message", (event) => {
    if (event.origin !== origin || event.data?.type !== "tracker:embed-height") return;
    const iframe = frames.find((frame) => frame.contentWindow === event.source);
    const height = Number(event.data.height);
    if (iframe && Number.isFinite(height) && height > 0 && height <= 4000) {
      iframe.style.height = `${Math.ceil(height)}px`;
    }
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", insert);
  else insert();
})();
