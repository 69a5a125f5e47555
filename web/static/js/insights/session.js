// Signing in and out. The key is the dispatcher page's (dispatch/api.js: sessionStorage,
// this tab only), so /dispatch and /insights share one sign-in. Whether a key may see
// insights is the API's answer: 401 (not a key), 403 (a support key).

import { forgetKey, keepKey } from "../dispatch/api.js";
import { $ } from "./dom.js";

export function initSession({ onSignIn, onSignOut }) {
  $("signin-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const key = $("api-key").value.trim();
    if (!key) return;
    keepKey(key);
    $("api-key").value = "";
    onSignIn();
  });
  $("signout").addEventListener("click", () => {
    forgetKey();
    onSignOut();
    showSignin();
  });
}

export function showSignin(error) {
  $("board").hidden = true;
  $("signout").hidden = true;
  $("period").textContent = "";
  $("signin").hidden = false;
  $("signin-error").textContent = error || "";
  $("signin-error").hidden = !error;
  $("api-key").focus();
}

export function showBoard() {
  $("signin").hidden = true;
  $("board").hidden = false;
  $("signout").hidden = false;
}

export function refuseKey(error) {
  forgetKey();
  showSignin(error);
}
