// eventplanner: the page's messages float over the page (app.css, "Messages") instead of
// pushing it down. Here: each gets a close button; a message that only reports (role
// "status") fades after FADE_MS, one that warns (role "alert") stays until closed; and the
// messages move to the top of the window while they would cover the form or row the user
// is working in; and the packing page's "Showing ..." line follows the counts. A file, not
// inline script: the Content-Security-Policy forbids it.
(function () {
  "use strict";

  var FADE_MS = 5000;

  function box() {
    return document.getElementById("messages");
  }

  function overlaps(a, b) {
    return a.top < b.bottom && b.top < a.bottom && a.left < b.right && b.left < a.right;
  }

  // The part of the page being worked in: the focused field's form or row.
  function workplace() {
    var active = document.activeElement;
    if (!active || active === document.body || !active.closest) return null;
    return active.closest("form, tr, tbody, li, section") || active;
  }

  function place() {
    var messages = box();
    if (!messages) return;
    messages.classList.remove("at-top");
    var work = workplace();
    if (!work || !messages.children.length) return;
    if (overlaps(messages.getBoundingClientRect(), work.getBoundingClientRect())) {
      messages.classList.add("at-top");
    }
  }

  function dismiss(message) {
    message.classList.add("fading");
    window.setTimeout(function () {
      message.remove();
    }, 400);
  }

  function prepare() {
    var messages = box();
    if (!messages) return;
    Array.prototype.forEach.call(messages.querySelectorAll(".message"), function (message) {
      if (message.dataset.prepared) return;
      message.dataset.prepared = "1";
      var text = document.createElement("span");
      text.className = "message-text";
      while (message.firstChild) text.appendChild(message.firstChild);
      message.appendChild(text);
      var close = document.createElement("button");
      close.type = "button";
      close.className = "link message-close";
      close.setAttribute("aria-label", "Close this message");
      close.textContent = "×";
      close.addEventListener("click", function () {
        message.remove();
      });
      message.appendChild(close);
      if (message.getAttribute("role") !== "alert") {
        window.setTimeout(function () {
          dismiss(message);
        }, FADE_MS);
      }
    });
    place();
  }

  // The packing page's "Showing 1-27 of 27 matching." follows the status tabs' count when
  // rows leave or join the filter (the rows that left stay on the page, dimmed, until it is
  // loaded again). A search narrows the list below the tabs' counts: its line is left as
  // the server wrote it.
  function followCounts() {
    var line = document.getElementById("showing");
    if (!line || line.hasAttribute("data-searched")) return;
    var counter = document.querySelector("#" + line.dataset.count + " .count-number");
    if (!counter) return;
    var now = Number(counter.textContent);
    var was = Number(line.dataset.matching);
    var start = line.dataset.start;
    var end = Number(line.dataset.end);
    if (now === was && !line.dataset.followed) return;
    var text = "Showing " + start + "–" + end;
    text += now < end ? "; " + now + " matching now" : " of " + now + " matching";
    if (was > now) text += " (" + (was - now) + " left this list)";
    text += ".";
    if (line.textContent !== text) line.textContent = text;
    line.dataset.followed = "1";
  }

  document.addEventListener("DOMContentLoaded", function () {
    prepare();
    // #messages is filled, or replaced out of band, by htmx and by app.js.
    var main = document.getElementById("main");
    if (main && window.MutationObserver) {
      new MutationObserver(function () {
        prepare();
        followCounts();
      }).observe(main, { childList: true, subtree: true, characterData: true });
    }
  });
  document.addEventListener("focusin", place);
  window.addEventListener("resize", place);
})();
