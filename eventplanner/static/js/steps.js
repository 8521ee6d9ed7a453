// eventplanner: one press, one step. When a row changes (an answer to its button, or a
// colleague's change merged in by live.js), the buttons that would step it again
// ([data-step-guard]: "Mark delivered", "Take back") ignore presses for HOLD_MS: a second
// Enter or a double tap on the spot that just changed does nothing, an intended press a
// moment later works. The button keeps the focus, so the keyboard user goes on from there.
// A file, not inline script: the Content-Security-Policy forbids inline script.
(function () {
  "use strict";

  var HOLD_MS = 600;
  var GUARDED = "[data-step-guard]";
  var region = null;

  function announce(text) {
    if (!region) {
      region = document.createElement("p");
      region.id = "step-guard-status";
      region.className = "visually-hidden";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    region.textContent = text;
  }

  function release(button) {
    button.classList.remove("is-held");
    button.removeAttribute("aria-disabled");
    delete button.dataset.heldUntil;
  }

  function hold(button) {
    button.dataset.heldUntil = String(Date.now() + HOLD_MS);
    button.setAttribute("aria-disabled", "true");
    button.classList.add("is-held");
    window.setTimeout(function () {
      release(button);
    }, HOLD_MS);
  }

  function isHeld(button) {
    var until = Number(button.dataset.heldUntil || 0);
    if (until && Date.now() >= until) release(button);
    return until > Date.now();
  }

  // Every guarded button put on the page after it loaded is held: an answer swapped in by
  // htmx, a colleague's change merged by live.js. Watched as the DOM changes (not on
  // htmx:load, which comes with the settle, 20 ms after the swap and its autofocus): the
  // observer runs before the next key press or click can be handled.
  function holdAdded(records) {
    var held = 0;
    records.forEach(function (record) {
      Array.prototype.forEach.call(record.addedNodes, function (node) {
        if (node.nodeType !== 1) return;
        var buttons = node.matches(GUARDED) ? [node] : [];
        buttons = buttons.concat(Array.prototype.slice.call(node.querySelectorAll(GUARDED)));
        buttons.forEach(function (button) {
          hold(button);
          held += 1;
        });
      });
    });
    if (held) announce("The row changed. Its next step is ready in a moment.");
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.MutationObserver) return;
    new MutationObserver(holdAdded).observe(document.body, { childList: true, subtree: true });
  });

  // Capturing, so the press is stopped before htmx or the form sees it.
  function refuse(event) {
    var button = event.target.closest && event.target.closest(GUARDED);
    if (event.type === "submit") button = event.submitter && event.submitter.closest(GUARDED);
    if (!button || !isHeld(button)) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    announce("That press was ignored: the row had just changed. Press again to go on.");
  }
  document.addEventListener("click", refuse, true);
  document.addEventListener("submit", refuse, true);
})();
