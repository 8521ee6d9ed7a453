// eventplanner: live pages. The page's live part (#live, templates/includes/live.html) polls
// with htmx; the server answers 204 while nothing changed, or the part's fresh rows out of
// band, each with a digest of what it shows. This script sends the page's token, pauses
// while the tab is hidden, backs off on errors, stops when signed out, and merges rows so
// that nothing the user is doing is disturbed: only rows whose digest changed are swapped,
// never one with an open form or the focus inside (it is marked "changed by ..." instead),
// ticked boxes stay ticked, rows that left the list stay in place marked, new rows are
// offered with a link, and the changes are announced once, politely.
(function () {
  "use strict";

  var MAX_WAIT_MS = 60000;
  var MARK_MS = 4000;
  var failures = 0;
  var resumeAt = 0;
  var stopped = false;
  var merging = null; // the poll whose answer is being swapped: what it changed
  var requestedSearch = null;

  function isLive(elt) {
    return !!(elt && elt.hasAttribute && elt.hasAttribute("data-live-token"));
  }

  function poller() {
    return document.getElementById("live");
  }

  function say(html) {
    var live = poller();
    if (live) live.innerHTML = html;
  }

  function escapeText(text) {
    var span = document.createElement("span");
    span.textContent = text;
    return span.innerHTML;
  }

  // -- when to poll ---------------------------------------------------------------------

  document.addEventListener("htmx:confirm", function (event) {
    if (!isLive(event.detail.elt)) return;
    if (document.hidden || stopped || Date.now() < resumeAt) event.preventDefault();
  });

  document.addEventListener("visibilitychange", function () {
    var live = poller();
    if (live && !document.hidden && !stopped) htmx.trigger(live, "live:poll");
  });

  document.addEventListener("htmx:configRequest", function (event) {
    var elt = event.detail.elt;
    if (!isLive(elt)) return;
    // The page's filter, search and page numbers are in its address (htmx pushes them).
    requestedSearch = window.location.search;
    event.detail.path = elt.getAttribute("hx-get") + requestedSearch;
    event.detail.headers["X-Live-Token"] = elt.getAttribute("data-live-token");
  });

  function backOff() {
    failures += 1;
    var seconds = Number(poller().getAttribute("data-live-seconds")) || 5;
    var wait = Math.min(seconds * 1000 * Math.pow(2, failures), MAX_WAIT_MS);
    resumeAt = Date.now() + wait;
  }

  function stop(html) {
    stopped = true;
    say(html);
  }

  document.addEventListener("htmx:afterRequest", function (event) {
    var elt = event.detail.elt;
    if (!isLive(elt)) return;
    var xhr = event.detail.xhr;
    var status = xhr.status;
    if (status === 401) {
      var next = encodeURIComponent(window.location.pathname + window.location.search);
      stop('<p class="message message-warning">You are signed out — ' +
        '<a href="/login/?next=' + next + '" target="_blank" rel="noopener">sign in again</a> ' +
        "to see your colleagues' changes. What you entered on this page is kept.</p>");
      return;
    }
    if (status === 404) {
      stop('<p class="message message-warning">This event no longer exists. ' +
        '<a href="/">Back to the events</a>.</p>');
      return;
    }
    if (status === 0 || status >= 500) {
      backOff();
      return;
    }
    failures = 0;
    resumeAt = 0;
    if (status !== 200) return;
    var token = xhr.getResponseHeader("X-Live-Token");
    if (token) elt.setAttribute("data-live-token", token);
    if (!merging) return; // not swapped: an answer for a filter the user has left
    // The swap is done (htmx swaps synchronously before this event): what moved?
    var result = merging;
    merging = null;
    var header = xhr.getResponseHeader("X-Live-Rows");
    announce(result, reconcile(header ? header.split(",") : []));
  });

  // -- merging the answer ---------------------------------------------------------------

  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!isLive(event.detail.elt) || event.detail.xhr.status !== 200) return;
    if (window.location.search !== requestedSearch) {
      // The user moved to another filter or page meanwhile: this answer is for the old one.
      event.detail.shouldSwap = false;
      return;
    }
    merging = { changed: [], held: [], other: [] };
  });

  function busy(target) {
    var active = document.activeElement;
    var focused = active && active !== document.body && target.contains(active);
    var openForm = target.matches(".editing") ||
      target.querySelector(".editing, .row-detail form, form.inline-form") !== null;
    return focused || openForm;
  }

  function keepTicks(target, fresh) {
    target.querySelectorAll("input[type=checkbox][id]").forEach(function (box) {
      var same = fresh.querySelector("#" + CSS.escape(box.id));
      if (!same) return;
      // As an attribute too: htmx settles a swapped element's attributes from the answer.
      same.checked = box.checked;
      if (box.checked) same.setAttribute("checked", "");
      else same.removeAttribute("checked");
    });
  }

  function noteHolder(row) {
    return row.querySelector("[data-live-note]") || row.querySelector("td, th") || row;
  }

  function holdBack(target, fresh) {
    // Not replaced under the user: say who changed it and let them take the change.
    var who = fresh.getAttribute("data-changed-by");
    var note = target.querySelector(".live-note-held");
    if (!note) {
      note = document.createElement("p");
      note.className = "live-note live-note-held small";
      noteHolder(target).appendChild(note);
    }
    note.textContent = "Changed " + (who ? who : "by a colleague") + ". ";
    var show = document.createElement("button");
    show.type = "button";
    show.className = "link";
    show.textContent = "Show the change";
    show.addEventListener("click", function () {
      target.replaceWith(fresh);
      htmx.process(fresh);
      mark(fresh);
    });
    note.appendChild(show);
    target.classList.add("live-held");
  }

  function mark(elt) {
    elt.classList.add("live-changed");
    var id = elt.id;
    window.setTimeout(function () {
      var now = document.getElementById(id);
      if (now) now.classList.remove("live-changed");
    }, MARK_MS);
  }

  document.addEventListener("htmx:oobBeforeSwap", function (event) {
    if (!merging) return;
    var target = event.detail.target;
    var fresh = event.detail.fragment.firstElementChild;
    // A row being edited is drawn by another fragment, without a digest: never equal.
    if (!fresh || !fresh.hasAttribute("data-digest")) return;
    if (fresh.getAttribute("data-digest") === target.getAttribute("data-digest")) {
      event.detail.shouldSwap = false;
      return;
    }
    // Counts and the summary always refresh; htmx puts the focus back on the same id.
    if (target.hasAttribute("data-live-always")) return;
    if (busy(target)) {
      event.detail.shouldSwap = false;
      holdBack(target, fresh.cloneNode(true));
      merging.held.push(target.id);
      return;
    }
    keepTicks(target, fresh);
    fresh.classList.add("live-changed");
    (target.hasAttribute("data-live-row") ? merging.changed : merging.other).push(target.id);
    window.setTimeout(mark.bind(null, fresh), 0);
  });

  function note(row, className, text) {
    if (row.querySelector("." + className)) return;
    var p = document.createElement("p");
    p.className = "live-note small " + className;
    p.textContent = text;
    noteHolder(row).appendChild(p);
  }

  function reconcile(ids) {
    // Rows that left the list stay where they are (nothing moves under the pointer),
    // marked; rows that joined it are offered, not pushed in.
    var present = {};
    var gone = 0;
    document.querySelectorAll("[data-live-row]").forEach(function (row) {
      present[row.id] = true;
      if (ids.indexOf(row.id) === -1) {
        if (!row.classList.contains("live-gone")) gone += 1;
        row.classList.add("live-gone");
        note(row, "live-note-gone", "No longer in this list.");
      }
    });
    // A row open for editing is drawn without the row marker, but it is on the page.
    var added = ids.filter(function (id) {
      return id && !present[id] && !document.getElementById(id);
    }).length;
    return { gone: gone, added: added };
  }

  function announce(result, moves) {
    var parts = [];
    var rows = result.changed.length;
    if (rows) parts.push(rows + (rows === 1 ? " row" : " rows") + " changed by a colleague");
    var held = result.held.length;
    if (held) {
      parts.push(held + (held === 1 ? " row" : " rows") + " you are working on changed " +
        "too (see the note beside it)");
    }
    if (moves.gone) parts.push(moves.gone + " left this list");
    if (!parts.length && result.other.length) parts.push("Updated with a colleague's change");
    var html = escapeText(parts.join("; ") + (parts.length ? "." : ""));
    if (moves.added) {
      html += ' <a href="' + escapeText(window.location.href) + '">Show ' + moves.added +
        " new</a>";
    }
    if (html.trim()) say('<p class="small">' + html + "</p>");
  }

})();
