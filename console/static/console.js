// provbus console: the only script. Pages read without it; it refreshes the
// flow's numbers from /ui/flow.json every 5 s while the tab is visible.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch) return;
  var url = live.getAttribute("data-live");
  function apply(data) {
    if (!data || !data.nodes) return;
    document.querySelectorAll("[data-node]").forEach(function (el) {
      var n = data.nodes[el.getAttribute("data-node")];
      if (!n) return;
      var sub = el.querySelector(".sub");
      if (sub) sub.textContent = n.sub;
      el.classList.toggle("warn", !!n.warn);
    });
    var at = document.getElementById("flow-at");
    if (at) at.textContent = data.at;
  }
  function tick() {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(apply)
      .catch(function () {});
  }
  setInterval(tick, 5000);
})();
