// The customer's tracking page lives in ./track/ (main.js is its entry): kept so links to
// this path go on working.
import "./track/main.js";
