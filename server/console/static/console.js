// xpushd console: the link preview on the send form, live delivery
// states on a notification's page, and confirmations. Everything also
// works without it.
"use strict";
(function () {
  var states = ["queued", "sent", "acked", "expired"];
  var imageRE = /^https?:\/\/[^\/?#]+\/[^?#]*\.(png|jpe?g|gif|webp)([?#].*)?$/i;

  function preview() {
    var input = document.getElementById("uri");
    var fig = document.getElementById("preview");
    var img = document.getElementById("preview-img");
    if (!input || !fig || !img) return;
    var update = function () {
      var v = input.value.trim();
      if (imageRE.test(v)) {
        if (img.getAttribute("src") !== v) img.setAttribute("src", v);
        fig.hidden = false;
      } else {
        fig.hidden = true;
        img.removeAttribute("src");
      }
    };
    input.addEventListener("input", update);
    update();
  }

  function badge(span, state) {
    span.className = states.indexOf(state) >= 0 ? "badge " + state : "badge";
    span.textContent = state;
  }

  function poll() {
    var table = document.getElementById("recipients");
    if (!table || table.hasAttribute("data-final")) return;
    var url = table.getAttribute("data-poll");
    var rows = {};
    table.querySelectorAll("tbody tr").forEach(function (tr) {
      rows[tr.getAttribute("data-user")] = tr;
    });
    var live = document.getElementById("live");
    if (live) live.hidden = false;
    var started = Date.now();
    var tick = function () {
      if (document.hidden) { setTimeout(tick, 3000); return; }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
        .then(function (st) {
          document.querySelectorAll("#counts [data-state]").forEach(function (span) {
            var s = span.getAttribute("data-state");
            span.textContent = (st.counts[s] || 0) + " " + s;
          });
          (st.recipients || []).forEach(function (d) {
            var tr = rows[d.user];
            if (!tr) return;
            badge(tr.cells[1].querySelector("span"), d.state);
            tr.cells[2].textContent = d.updated;
          });
          if (st.final || Date.now() - started > 30 * 60 * 1000) {
            if (live) live.hidden = true;
            return;
          }
          setTimeout(tick, 3000);
        })
        .catch(function () { if (live) live.hidden = true; });
    };
    setTimeout(tick, 2000);
  }

  function confirmations() {
    document.querySelectorAll("form[data-confirm]").forEach(function (f) {
      f.addEventListener("submit", function (e) {
        if (!window.confirm(f.getAttribute("data-confirm"))) e.preventDefault();
      });
    });
  }

  preview();
  poll();
  confirmations();
})();
