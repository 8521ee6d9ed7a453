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

  // The live part (live.js) says itself what a failed poll means.
  function isPoll(event) {
    return event.detail.elt.hasAttribute && event.detail.elt.hasAttribute("data-live-token");
  }

  document.addEventListener("htmx:responseError", function (event) {
    if (isPoll(event)) return;
    var status = event.detail.xhr.status;
    show(
      MESSAGES[status] ||
        "Something went wrong (error " + status + "). Nothing was changed; please try again.",
    );
  });

  // Filter and search forms whose results are swapped in place keep their state in the URL.
  // When the back button restores an earlier page from htmx's history cache, the restored
  // snapshot has the results but not the typed values: put the URL's values back.
  function syncFormsWithUrl() {
    var params = new URLSearchParams(window.location.search);
    document.querySelectorAll("form[data-sync-url]").forEach(function (form) {
      Array.prototype.forEach.call(form.elements, function (field) {
        // Never overwrite what the user is typing right now.
        if (!field.name || field === document.activeElement) return;
        var value = params.get(field.name);
        if (field.type === "radio") {
          field.checked = value === null ? field.hasAttribute("data-default") : value === field.value;
        } else if (field.type === "checkbox") {
          field.checked = params.getAll(field.name).indexOf(field.value) !== -1;
        } else if (field.type !== "hidden" && field.tagName !== "BUTTON") {
          field.value = value === null ? "" : value;
        }
      });
    });
  }
  document.addEventListener("htmx:historyRestore", syncFormsWithUrl);
  // A link that filtered the list (a status tab) moved the URL: the form follows it.
  document.addEventListener("htmx:pushedIntoHistory", syncFormsWithUrl);
  window.addEventListener("pageshow", syncFormsWithUrl);

  // While a form's request runs, its submit buttons are disabled: a double tap on a slow
  // connection sends one request, not two. (Done here rather than with an inherited
  // hx-disabled-elt, which would also apply to every link and search field.)
  document.addEventListener("htmx:beforeRequest", function (event) {
    var form = event.detail.elt.closest && event.detail.elt.closest("form");
    if (!form) return;
    form.querySelectorAll("button[type=submit], button:not([type])").forEach(function (b) {
      if (!b.disabled) {
        b.disabled = true;
        b.setAttribute("data-busy", "");
      }
    });
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt.closest && event.detail.elt.closest("form");
    if (!form) return;
    form.querySelectorAll("button[data-busy]").forEach(function (b) {
      b.disabled = false;
      b.removeAttribute("data-busy");
    });
  });

  // Escape inside an inline edit form cancels it. (A key filter in hx-trigger would need
  // eval, which the Content-Security-Policy forbids.)
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape" || !event.target.closest) return;
    var row = event.target.closest("tr.editing, form");
    var cancel = row && row.querySelector("[data-cancel-on-escape]");
    if (cancel) {
      event.preventDefault();
      cancel.click();
    }
  });

  // Print buttons (no inline onclick: the Content-Security-Policy forbids inline script).
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-print]")) window.print();
  });

  // A toolbar's "More" folds away on a phone, where the rows need the screen; on a wide
  // screen there is room, so it starts open. Closed by default, it works without script.
  if (window.matchMedia("(min-width: 60rem)").matches) {
    document.querySelectorAll("details[data-open-wide]").forEach(function (details) {
      details.open = true;
    });
  }

  document.addEventListener("htmx:sendError", function (event) {
    if (isPoll(event)) return;
    show("Could not reach the server. Check your connection and try again; nothing was changed.");
  });
})();
