// eventplanner: what the server cannot say when an htmx request fails before or without a
// swappable answer. Kept in a file (not inline) so the Content-Security-Policy can forbid
// inline scripts.
(function () {
  "use strict";

  var MESSAGES = {
    403: "You do not have permission to do that.",
    404: "That item no longer exists. Reload the page to see the current data.",
    405: "That action is not available here.",
    429: "Too many attempts. Wait a moment and try again.",
    503: "The database is not reachable right now. Nothing was changed; try again in a moment.",
  };

  function show(text, level) {
    var box = document.getElementById("messages");
    if (!box) return;
    var p = document.createElement("p");
    p.className = "message message-" + (level || "error");
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.replaceChildren(p);
  }

  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    show(
      MESSAGES[status] ||
        "Something went wrong (error " + status + "). Nothing was changed; please try again.",
    );
  });

  document.addEventListener("htmx:sendError", function () {
    show("Could not reach the server. Check your connection and try again; nothing was changed.");
  });
})();
