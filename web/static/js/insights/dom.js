// The page's elements by id, and element building (the shared one from ../format.js).

export { el } from "../format.js";

export const $ = (id) => document.getElementById(id);
