// The API reference page (/docs): Swagger UI (web/node_modules/swagger-ui-dist, loaded by the
// page as a classic script) rendering the server's own /openapi.json. No outside requests:
// no validator badge, no remote configuration.
window.SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  queryConfigEnabled: false,
  presets: [window.SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
