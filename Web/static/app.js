// Outpost analysts' workspace: progressive touches only; every page works without this file.
// It never reads reporter text into code: it only moves focus and marks the page as scripted.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  // The sign-in field gets the focus.
  var token = document.getElementById("token");
  if (token) { token.focus(); }
  // A click on a map point's circle opens the incident (its link already does; this widens the target).
  var map = document.getElementById("map");
  if (map) {
    map.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && document.activeElement) { document.activeElement.blur(); }
    });
  }
  document.documentElement.classList.add("js");
});
