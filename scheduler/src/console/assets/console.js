// Setwise console: swaps in a fresh server rendering of the sections every second,
// so the page follows failovers, moves and health without a reload. Served by the
// scheduler itself; no external assets.
(function () {
  "use strict";
  var main = document.getElementById("main");
  var live = document.getElementById("live");
  var last = main ? main.innerHTML : "";
  var busy = false;

  function refresh() {
    if (busy) return;
    busy = true;
    // The query (?set=&request=) names a switchover the page follows.
    fetch("/fragment" + window.location.search, { cache: "no-store" })
      .then(function (r) {
        if (!r.ok) return r.text().then(function (t) { throw new Error(t || r.status); });
        return r.text();
      })
      .then(function (html) {
        if (html !== last) {
          main.innerHTML = html;
          last = html;
        }
        live.textContent = "live · " + new Date().toLocaleTimeString();
        live.dataset.state = "live";
      })
      .catch(function (e) {
        live.textContent = "cannot refresh: " + e.message;
        live.dataset.state = "stale";
      })
      .then(function () { busy = false; });
  }

  setInterval(refresh, 1000);
  refresh();
})();
