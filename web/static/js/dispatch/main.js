// The dispatcher's page, /dispatch: every driver live on one map (clustered), a filterable
// list beside it, a driver's detail (route, stops with ETAs, recent trail), open alerts and
// an activity feed; and acting: creating orders, assigning and reordering runs, changing
// statuses, messaging couriers, acknowledging alerts. Data: WS /ws/fleet (snapshot, then a
// delta per second, alerts at once), limited to the map's view with {"type":"viewport"};
// orders, drivers and alerts over REST. Thousands of drivers: markers are updated in place,
// a delta touches the DOM once (list rendering is coalesced into one animation frame, and
// capped).
//
// The modules, from the top down: session (sign-in, the socket), fleet (snapshots, deltas,
// alerts), detail (the selected driver), courier (phone, messages, finished orders), runedit
// (the stops, reordering), orderform (a new order), orderpanel (one order and its actions),
// proof, search (finding an order), replay (a driver's day), bottlenecks (layers and the
// heat map), list, fleetmap, alerts (open alerts and the feed), roster (every driver, for
// selects), api (the key, REST), render (the frame), state (drivers and the board). Lower
// modules call back up only through the handlers wired here.
import { initAlerts } from "./alerts.js";
import { initBottlenecks } from "./bottlenecks.js";
import { apiKey, whenKeyRejected } from "./api.js";
import { initDetail, renderDetail, select } from "./detail.js";
import { onMapClick } from "./fleetmap.js";
import { initList, renderList } from "./list.js";
import { initOrderForm, pickDestination, resetOrderForm } from "./orderform.js";
import { closeOrder, initOrderPanel, openOrder, refreshOrder } from "./orderpanel.js";
import { setRender } from "./render.js";
import { initReplay } from "./replay.js";
import { forgetRoster } from "./roster.js";
import { initSearch } from "./search.js";
import { initSession, showSignin, signOut, startBoard } from "./session.js";
import { drivers, ui } from "./state.js";

setRender(() => {
  renderList();
  if (ui.selected !== null) renderDetail();
  refreshOrder();
});
whenKeyRejected(signOut); // a REST call answered 401: the key was revoked
initSession({
  onSignOut() {
    closeOrder();
    resetOrderForm();
    forgetRoster();
  },
});
initList({ onSelect: select }); // a row click selects; selecting redraws the list
initDetail();
initReplay();
initBottlenecks();
initOrderForm();
initOrderPanel();
initSearch({ onOpen: openOrder });
onMapClick(pickDestination);
initAlerts({
  onOpen(driverId, orderId) {
    if (driverId != null && drivers.has(driverId)) select(driverId);
    if (orderId != null) openOrder(orderId);
  },
});

const stored = apiKey();
if (stored) startBoard(stored);
else showSignin();
