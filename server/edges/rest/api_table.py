"""Every REST route, declared once for the OpenAPI document (server/edges/rest/openapi.py):
method, path template, summary, who may call it, the request body's type and the response
types by status code. Types are the msgspec Structs the handlers decode and encode.

Only what a route answers beyond the shared rules is listed; openapi.py adds those: 401 and
403 for an API key (401 alone for other credentials), 408/413/422 for a JSON body, 503 when
the database is needed, 500 everywhere. tests/server/test_openapi.py fails when a route of
the app is missing here, or a path here is not a route of the app.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec

from server.edges.phone_apps import osmand
from server.edges.phone_apps.routes import OwnTracksLocation, OwnTracksType
from server.edges.rest.alerts import MessageIn
from server.edges.rest.api_types import (
    EMPTY_LIST,
    ERROR,
    IMAGE,
    NO_BODY,
    TEXT,
    WRONG_STATE,
    Media,
    Op,
    Param,
)
from server.edges.rest.drivers import DriverIn
from server.edges.rest.notifications import SubscriptionIn
from server.edges.rest.routing import OptimizeIn
from server.edges.rest.validation import ApiKeyIn, AssignIn, OrderIn, StatusIn
from server.wire import (
    alerts,
    bottlenecks,
    courier,
    courier_actions,
    insights,
    live,
    notify,
    orders,
    proof,
    rest,
    routing,
    self_service,
)


class FixBacklog(msgspec.Struct, tag="fixes", tag_field="type"):
    """A batch of fixes (an offline backlog); each is checked, and refused, alone."""

    fixes: list[courier.FixIn]


DRIVER_TOKEN_BODY = (courier.FixMessage, FixBacklog, list[courier.FixIn])


OrderStatus = Annotated[str, msgspec.Meta(pattern=r"^[a-z_]+(,[a-z_]+)*$")]
Limit = Annotated[int, msgspec.Meta(ge=1)]
Id = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
SearchText = Annotated[str, msgspec.Meta(min_length=3, max_length=200)]

_ORDER_QUERY = (
    Param("status", OrderStatus, "only these statuses, comma-separated"),
    Param("late", bool, "only late (true) or on-time (false) orders"),
    Param("driver_id", Id, "only this driver's orders"),
    Param("limit", Limit, "page size (at most 500; default 100)"),
    Param("after", int, "the `next_after` of the previous page"),
    Param("from", datetime, "only orders created at or after this (ISO 8601 with a zone)"),
    Param("to", datetime, "only orders created at or before this (ISO 8601 with a zone)"),
    Param("format", Literal["json", "csv"], "`csv`: every order selected, streamed as CSV "
          "(not for the support role)"),
    Param("q", SearchText, "orders whose reference, tracking code, customer name, email or "
          "phone contains this (3 to 200 characters, case-insensitive)"),
    Param("reference", str, "only this reference (exact)"),
    Param("email", str, "only this customer email (exact, case-insensitive)"),
    Param("phone", str, "only this customer phone (exact, E.164 as stored)"),
)  # fmt: skip
# Track exports (docs/api.md, "Exports"): streamed; GeoJSON Point features, GPX 1.1 or CSV.
TRACK = (Media("application/geo+json"), Media("application/gpx+xml"), Media("text/csv"))
CSV = Media("text/csv")
_TRACK_FORMAT = Param("format", Literal["geojson", "gpx", "csv"], "default geojson")
_TRACK_QUERY = (
    Param("from", datetime, "ISO 8601 with a zone; default 24 h before `to`"),
    Param("to", datetime, "ISO 8601 with a zone; default now"),
    _TRACK_FORMAT,
)
_TRACK_SHAPES = (
    "GeoJSON: a FeatureCollection of Point features, oldest first, with `recorded_at`, "
    "`accuracy_m`, `speed_mps`, `heading_deg`, `altitude_m`, `battery` properties; GPX 1.1: "
    "one trk/trkseg, speed and course in Garmin's TrackPointExtension v2; CSV: "
    "recorded_at,lat,lon,accuracy_m,speed_mps,heading_deg,altitude_m,battery."
)
_RANGE_QUERY = (
    Param("from", datetime, "ISO 8601 with a zone; default 7 days before `to`"),
    Param("to", datetime, "ISO 8601 with a zone; default now"),
)
_LAYER = Literal["slow", "dwell", "late"]
_ALERT_QUERY = (
    Param("open", bool, "only alerts not acknowledged yet (true)"),
    Param("limit", Limit, "page size (at most 500; default 100)"),
    Param("after", int, "the `next_after` of the previous page"),
)
_OSMAND_QUERY = (
    Param("id", str, "the driver's device_id (`deviceid` also accepted): the credential"),
    Param("lat", float, "latitude, degrees"),
    Param("lon", float, "longitude, degrees"),
    Param("timestamp", str, "epoch seconds or ms, ISO 8601, or `yyyy-MM-dd HH:mm:ss`"),
    Param("speed", float, "knots unless TRACKER_OSMAND_SPEED_UNIT says otherwise"),
    Param("bearing", float, "degrees"),
    Param("altitude", float, "metres"),
    Param("accuracy", float, "metres"),
    Param("batt", float, "battery, percent"),
)

_S, _D, _A = "support", "dispatcher", "admin"
_UNSUBSCRIBE = (
    Param("channel", Literal["email", "sms"], "the channel to turn off"),
    Param("sig", Annotated[str, msgspec.Meta(min_length=22, max_length=22)],
          "the link's signature, as in the message"),
)  # fmt: skip
Day = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")]
Zone = Annotated[str, msgspec.Meta(pattern=r"^[0-9b-hjkmnp-z]{5}$")]
_INSIGHT_QUERY = (
    Param("from", Day, "first day, operator-local (default: 6 days before `to`)"),
    Param("to", Day, "last day, inclusive (default: today)"),
    Param("driver_id", Id, "only this driver's (404 if there is no such driver)"),
    Param("zone", Zone, "only this zone: the destination's 5-character geohash (404 if "
          "nothing was recorded there)"),
)  # fmt: skip
_INSIGHT_FORMAT = Param("format", Literal["json", "csv"], "default json")
_INSIGHTS = (
    "Read from hourly rollups kept with every delivery; days and weeks in "
    "TRACKER_OPERATOR_TIME_ZONE, named in every answer (`time_zone`; CSV: a column). "
    "Periods over TRACKER_INSIGHTS_MAX_RANGE_DAYS, from after to, unknown parameters: 422. "
    "Support keys: 403."
)
_BY_CODE = "The tracking code is the credential; rate-limited as lookups; an expired link is 404."
OPERATIONS: tuple[Op, ...] = (
    # health and metrics
    Op("GET", "/livez", "The process and its event loop answer", "health", None,
       {200: rest.Alive}, database=False),
    Op("GET", "/readyz", "May this replica take traffic (database, writer, bus)", "health",
       None, {200: rest.Readiness, 503: rest.Readiness}, database=False),
    Op("GET", "/healthz", "The older name of /readyz", "health", None,
       {200: rest.Readiness, 503: rest.Readiness}, database=False, deprecated=True),
    Op("GET", "/metrics", "Prometheus text exposition", "health", "metrics",
       {200: TEXT}, database=False),
    Op("GET", "/openapi.json", "This document", "health", None, {200: dict[str, Any]},
       database=False),
    # drivers
    Op("POST", "/api/drivers", "Create a driver; its token is shown this once", "drivers", _A,
       {201: rest.DriverView, 409: ERROR}, DriverIn,
       description='`"device_id": "generate"` draws a long random device id.'),
    Op("GET", "/api/drivers", "List drivers", "drivers", _D, {200: list[rest.DriverView]}),
    Op("GET", "/api/drivers/{driver_id}", "One driver, with its newest fix's battery and app",
       "drivers", _D, {200: rest.DriverDetail, 404: ERROR}),
    Op("POST", "/api/drivers/{driver_id}/messages", "A message to the courier", "alerts", _D,
       {201: alerts.MessageView, 404: ERROR}, MessageIn,
       description="Stored, and sent on the courier socket as `message` (now, or when it "
       "connects within 24 h)."),
    Op("POST", "/api/drivers/{driver_id}/run/optimize", "A proposed order for the run's stops",
       "drivers", _D, {200: routing.RunProposal, 404: ERROR, 409: ERROR, 422: ERROR},
       OptimizeIn,
       description="From a travel-time matrix on the imported road network (pgRouting); "
       "never slower than the current order. The body is optional (`{}`). Changes "
       "nothing: apply it with the reorder action. 409 when there is no network or a "
       "stop is off it; 422 over TRACKER_OPTIMIZE_MAX_STOPS stops."),
    Op("GET", "/api/alerts", "A page of stored alerts", "alerts", _D,
       {200: alerts.AlertPage, 422: ERROR}, params=_ALERT_QUERY),
    Op("POST", "/api/alerts/{alert_id}/ack", "Acknowledge an alert (the first ack stays)",
       "alerts", _D, {200: alerts.AlertView, 404: ERROR},
       description="Every dispatcher hears it on `WS /ws/fleet` as `alert_ack`."),
    Op("POST", "/api/drivers/{driver_id}/token", "A new token; the old one stops at once",
       "drivers", _A, {200: rest.DriverView, 404: ERROR}),
    Op("GET", "/api/drivers/{driver_id}/track", "A driver's stored fixes between two times",
       "exports", _D, {200: TRACK, 404: ERROR, 422: ERROR}, params=_TRACK_QUERY,
       description=_TRACK_SHAPES + " Ranges over TRACKER_TRACK_MAX_RANGE_H are 422."),
    # delivery insights (docs/api.md "Insights")
    Op("GET", "/api/insights/summary", "Delivery performance over a period, and the one "
       "before", "insights", _D, {200: insights.Summary, 404: ERROR, 422: ERROR},
       params=_INSIGHT_QUERY, description=_INSIGHTS),
    Op("GET", "/api/insights/series", "Delivery performance per hour, day or week",
       "insights", _D, {200: (insights.Table, CSV), 404: ERROR, 422: ERROR},
       params=(*_INSIGHT_QUERY, _INSIGHT_FORMAT, Param("bucket", Literal["hour", "day", "week"],
               "default day; hour: periods of at most 31 days")),
       description=_INSIGHTS),
    Op("GET", "/api/insights/drivers", "Delivery performance per driver", "insights", _D,
       {200: (insights.Table, CSV), 404: ERROR, 422: ERROR},
       params=(*_INSIGHT_QUERY, _INSIGHT_FORMAT), description=_INSIGHTS),
    Op("GET", "/api/insights/zones", "Delivery performance per zone", "insights", _D,
       {200: (insights.Table, CSV), 404: ERROR, 422: ERROR},
       params=(*_INSIGHT_QUERY, _INSIGHT_FORMAT), description=_INSIGHTS),
    Op("GET", "/api/insights/bottlenecks", "Where time is lost: a GeoJSON layer of map cells",
       "insights", _D, {200: bottlenecks.Layer, 422: ERROR},
       params=(*_RANGE_QUERY, Param("layer", _LAYER, "default slow")),
       description="Cells of ~150 m, worst first, at most TRACKER_BOTTLENECK_MAX_FEATURES "
       "(`truncated` says when there were more); `rule` says how the layer is made. Ranges "
       "over TRACKER_BOTTLENECK_MAX_RANGE_DAYS are 422."),
    Op("GET", "/api/insights/heatmap", "When time is lost: an hour-of-week matrix",
       "insights", _D, {200: bottlenecks.HeatMap, 422: ERROR},
       params=(*_RANGE_QUERY, Param("metric", _LAYER, "default late")),
       description="7 rows (Monday first) of 24 hours in TRACKER_OPERATOR_TIME_ZONE."),
    # courier ingest and phone apps
    Op("POST", "/api/ingest", "A batch of fixes, answered once they are stored", "ingest",
       "driver", {200: rest.Ingested, 400: ERROR, 413: ERROR, 503: (rest.StorageBehind, ERROR)},
       DRIVER_TOKEN_BODY),
    Op("GET", "/osmand", "OsmAnd protocol (Traccar Client): one fix in the query", "ingest",
       "device", {200: TEXT, 400: ERROR, 413: ERROR, 429: ERROR}, params=_OSMAND_QUERY),
    Op("POST", "/osmand", "OsmAnd protocol: a form, a query or JSON (Traccar Client 9+)",
       "ingest", "device", {200: TEXT, 400: ERROR, 413: ERROR, 429: ERROR},
       osmand._Body, params=_OSMAND_QUERY),
    Op("PUT", "/osmand", "OsmAnd protocol, as POST", "ingest", "device",
       {200: TEXT, 400: ERROR, 413: ERROR, 429: ERROR}, osmand._Body, params=_OSMAND_QUERY),
    Op("POST", "/owntracks", "OwnTracks HTTP mode: a location (other messages ignored)",
       "ingest", "owntracks", {200: EMPTY_LIST, 400: ERROR, 413: ERROR, 429: ERROR},
       (OwnTracksLocation, OwnTracksType)),
    # API keys
    Op("POST", "/api/keys", "Create an API key; shown this once", "keys", _A,
       {201: rest.KeyCreated}, ApiKeyIn),
    Op("GET", "/api/keys", "List API keys (never the keys themselves)", "keys", _A,
       {200: rest.Keys}),
    Op("DELETE", "/api/keys/{key_id}", "Revoke a key, its open sockets closed", "keys", _A,
       {204: NO_BODY, 404: ERROR}),
    # orders
    Op("POST", "/api/orders", "Create an order", "orders", _D,
       {201: orders.DispatcherOrder}, OrderIn),
    Op("GET", "/api/orders", "A page of orders (or searched), or all of them as CSV", "orders",
       _S, {200: (orders.OrderPage, CSV), 422: ERROR}, params=_ORDER_QUERY,
       description="Unknown query parameters are 422, named. A support key may not ask "
       "for CSV (403)."),
    Op("GET", "/api/orders/{order_id}/track", "The fixes of an order's last delivery attempt",
       "exports", _D, {200: TRACK, 404: ERROR, 409: ERROR, 422: ERROR},
       params=(_TRACK_FORMAT,),
       description=_TRACK_SHAPES + " 409: the order never went out for delivery."),
    Op("GET", "/api/orders/{order_id}", "One order with its timeline, issues and rating",
       "orders", _S, {200: orders.DispatcherOrder, 404: ERROR},
       description="A support key gets the route as assigned, never the courier's live leg."),
    Op("POST", "/api/orders/{order_id}/status", "Move an order along its lifecycle", "orders",
       _D, {200: (orders.DispatcherOrder, courier_actions.ActionDone), 400: ERROR, 404: ERROR,
            409: rest.TransitionRefused}, (StatusIn, courier_actions.ActionIn),
       params=(Param("Idempotency-Key", str, "a courier's action: required, at most 200 "
                     "characters; the same key with the same body answers as the first time",
                     "header"),),
       also_driver=True,
       description="An illegal transition is 409 naming the allowed ones. With a driver's "
       "token (a courier action, docs/api.md \"Courier actions\"): only `arrived`, "
       "`delivered`, `failed` (`reason` one of not_home, refused, address_not_found, "
       "no_access, damaged, other; `note` required with other), only on the caller's run "
       "(otherwise 403), with an `Idempotency-Key` header (missing: 400; reused for a "
       "different action: 422); answers ActionDone."),
    Op("POST", "/api/orders/{order_id}/assign", "Put an order on a driver's run", "orders", _D,
       {200: orders.DispatcherOrder, 404: ERROR, 409: ERROR}, AssignIn,
       description="`route`: a GeoJSON LineString or an encoded polyline; without one the "
       "server makes one."),
    Op("GET", "/api/orders/{order_id}/notifications", "What was sent about an order",
       "notifications", _S, {200: list[notify.SentView]}),
    # proof of delivery
    Op("POST", "/api/orders/{order_id}/proof", "Upload proof of delivery (courier)", "proof",
       "driver", {201: proof.ProofView, 200: proof.ProofView, 400: ERROR, 403: ERROR,
                  404: ERROR, 409: ERROR, 415: ERROR, 423: ERROR},
       Media("multipart/form-data", proof.ProofForm),
       params=(Param("Idempotency-Key", str, "required: a resend with the same key is "
                     "answered 200 with what is stored", "header"),),
       description="The driver of the order's run only (another driver: 403). Images are "
       "decoded (JPEG, PNG, WebP), re-encoded without EXIF; a new key replaces the proof. "
       "A wrong `pin` is 422 with the tries left; 423 once locked."),
    Op("GET", "/api/orders/{order_id}/proof", "An order's proof of delivery", "proof", _D,
       {200: proof.ProofView, 404: ERROR}),
    Op("GET", "/api/orders/{order_id}/proof/photo", "The proof photo", "proof", _D,
       {200: IMAGE, 404: ERROR}),
    Op("GET", "/api/orders/{order_id}/proof/photo/thumb", "The proof photo's thumbnail",
       "proof", _D, {200: IMAGE, 404: ERROR}),
    Op("GET", "/api/orders/{order_id}/proof/signature", "The recipient's signature", "proof",
       _D, {200: IMAGE, 404: ERROR}),
    Op("GET", "/api/fleet", "Every driver, position and current stop", "fleet", _D,
       {200: live.FleetView}, database=False),
    Op("GET", "/api/track/{code}", "The customer's view of an order", "tracking", None,
       {200: orders.CustomerOrder, 404: ERROR, 429: ERROR},
       description="The tracking code is the credential; lookups are rate-limited."),
    Op("GET", "/api/track/{code}/proof/photo", "The delivery photo, for the customer",
       "tracking", None, {200: IMAGE, 404: ERROR, 429: ERROR},
       description="Once delivered, while the link is valid, unless "
       "TRACKER_PROOF_PHOTO_TO_CUSTOMER is off; rate-limited as lookups."),
    # the customer's self-service (docs/api.md "Customer self-service")
    Op("POST", "/api/track/{code}/instructions", "Delivery instructions for the courier",
       "tracking", None, {200: self_service.InstructionsView, 404: ERROR, 409: WRONG_STATE,
                          429: ERROR}, self_service.InstructionsIn,
       description="Until the order is out for delivery (then 409 naming the status); an "
       "empty text removes them. " + _BY_CODE),
    Op("POST", "/api/track/{code}/issues", "Report a problem", "tracking", None,
       {201: self_service.IssueView, 404: ERROR, 429: ERROR}, self_service.IssueIn,
       description="Stored, a dispatcher alert (`issue_reported`), the "
       "`order.issue_reported` webhook, and an email to TRACKER_SUPPORT_EMAIL when set. At "
       "most 20 per order (then 429). " + _BY_CODE),
    Op("POST", "/api/track/{code}/rating", "Rate the delivery", "tracking", None,
       {200: self_service.RatingView, 404: ERROR, 409: WRONG_STATE, 429: ERROR},
       self_service.RatingIn,
       description="Delivered orders only (otherwise 409); a new rating replaces the "
       "last. " + _BY_CODE),
    Op("POST", "/api/track/{code}/reattempt", "Ask for a new attempt after a failed one",
       "tracking", None, {200: self_service.ReattemptView, 404: ERROR, 409: WRONG_STATE,
                          429: ERROR}, self_service.ReattemptIn,
       description="Failed orders only (otherwise 409): back to `shipped`, off the run, "
       "for dispatch to plan; a timeline entry and a `reattempt_requested` alert. " + _BY_CODE),
    # the customer's message preferences (docs/api.md "Message preferences")
    Op("GET", "/api/track/{code}/preferences", "Which channels the customer hears on",
       "tracking", None, {200: self_service.PreferencesView, 404: ERROR, 429: ERROR},
       description=_BY_CODE),
    Op("POST", "/api/track/{code}/preferences", "Turn email or SMS on or off for the order",
       "tracking", None, {200: self_service.PreferencesView, 404: ERROR, 429: ERROR},
       self_service.PreferencesIn,
       description="A channel left out is unchanged; messages for a channel turned off are "
       "not sent (logged as `skipped`). " + _BY_CODE),
    Op("POST", "/api/track/{code}/unsubscribe", "One-click unsubscribe (RFC 8058)", "tracking",
       None, {200: self_service.PreferencesView, 403: ERROR, 404: ERROR},
       Media("application/x-www-form-urlencoded"), params=_UNSUBSCRIBE,
       description="The `List-Unsubscribe` URL of a customer's email: turns that channel "
       "off for that order. The signature is the credential, checked before the order is "
       "looked up (403 says nothing of the code); not rate-limited as lookups; 404: signed, "
       "but the order is unknown or its link expired. The body "
       "(`List-Unsubscribe=One-Click`) is read and ignored."),
    Op("GET", "/api/track/{code}/unsubscribe", "The unsubscribe link, opened", "tracking",
       None, {303: NO_BODY}, params=_UNSUBSCRIBE, database=False,
       description="Changes nothing and looks nothing up (link scanners follow links): 303 "
       "to the preferences page, `/track/{code}/preferences`."),
    # webhooks
    Op("POST", "/api/webhooks", "Subscribe a URL to events", "notifications", _A,
       {201: notify.SubscriptionView}, SubscriptionIn),
    Op("GET", "/api/webhooks", "List subscriptions", "notifications", _A,
       {200: list[notify.SubscriptionView]}),
    Op("GET", "/api/webhooks/{subscription_id}", "One subscription", "notifications", _A,
       {200: notify.SubscriptionView, 404: ERROR}),
    Op("DELETE", "/api/webhooks/{subscription_id}", "Unsubscribe", "notifications", _A,
       {204: NO_BODY, 404: ERROR}),
    Op("POST", "/api/webhooks/{subscription_id}/enable", "Enable a disabled subscription",
       "notifications", _A, {200: notify.SubscriptionView, 404: ERROR}),
    Op("GET", "/api/webhooks/{subscription_id}/deliveries", "Recent delivery attempts",
       "notifications", _A, {200: list[notify.DeliveryView], 404: ERROR, 422: ERROR},
       params=(Param("limit", Limit, "at most 1000; default 100"),)),
)  # fmt: skip

# Sockets are no OpenAPI paths: listed as an extension, with their messages' schemas.
SOCKETS: dict[str, dict[str, Any]] = {
    "/ws/driver": {
        "summary": "Courier socket: fixes and actions in; acks once stored, action results, "
        "the courier's run on connect and on every change; messages from dispatch",
        "auth": "driverToken (header, subprotocol tracker.token.<token>, or ?token=)",
        "receives": (courier.FixMessage, FixBacklog, courier_actions.ActionMessage),
        "sends": (
            courier.Ack,
            courier.Rejected,
            courier.Error,
            courier_actions.RunMessage,
            courier_actions.ActionResult,
            alerts.CourierMessage,
        ),
    },
    "/ws/track/{code}": {
        "summary": "Customer socket: a snapshot, then positions, statuses and ETAs",
        "auth": "the tracking code in the path",
        "receives": (),
        "sends": (
            orders.CustomerSnapshot,
            live.PositionMessage,
            live.StatusMessage,
            live.EtaMessage,
            live.EtaGone,
        ),
    },
    "/ws/fleet": {
        "summary": "Dispatcher socket: a fleet snapshot, then deltas and alerts",
        "auth": "apiKey (header, subprotocol, or ?token=)",
        "receives": (),
        "sends": (live.FleetSnapshot, live.Alert, alerts.AlertAck),
    },
}

# Names for the components msgspec could only tell apart by module.
COMPONENT_NAMES = {
    "server.wire.rest.Error": "Error",
    "server.wire.courier.Error": "SocketError",
    "_Body": "OsmAndJson",
    "_Location": "OsmAndLocation",
    "_Coords": "OsmAndCoords",
    "_Battery": "OsmAndBattery",
    "_Activity": "OsmAndActivity",
}
