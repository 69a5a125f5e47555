// The dispatcher's page, /dispatch: every driver live on one map (clustered), a filterable
// list beside it, a driver's detail (route, stops with ETAs, recent trail) and an alerts
// feed. Data: WS /ws/fleet (snapshot, then a delta per second, alerts at once), limited to
// the map's view with {"type":"viewport"}; a driver's orders from GET /api/orders.
// Thousands of drivers: markers are updated in place, a delta touches the DOM once
// (list rendering is coalesced into one animation frame, and capped).
//
// The modules, from the top down: session (sign-in, the socket), fleet (snapshots, deltas,
// alerts), detail (the selected driver), list, fleetmap, alerts (the feed), api (the key,
// REST), render (the frame), state (drivers and the board). Lower modules call back up only
// through the handlers wired here.
import { apiKey, whenKeyRejected } from "./api.js";
import { initDetail, renderDetail, select } from "./detail.js";
import { initList, renderList } from "./list.js";
import { setRender } from "./render.js";
import { initSession, showSignin, signOut, startBoard } from "./session.js";
import { ui } from "./state.js";

setRender(() => {
  renderList();
  if (ui.selected !== null) renderDetail();
});
whenKeyRejected(signOut); // a REST call answered 401: the key was revoked
initSession();
initList({ onSelect: select }); // a row click selects; selecting redraws the list
initDetail();

const stored = apiKey();
if (stored) startBoard(stored);
else showSignin();
