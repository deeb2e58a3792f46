// provbus console: the only script. Pages read without it; it refreshes the
// flow's numbers from /ui/flow.json every 5 s while the tab is visible.
(function () {
  "use strict";
  var live = document.querySelector("[data-live]");
  if (!live || !window.fetch) return;
  var url = live.getAttribute("data-live");
  // fill sets the cells marked data-f="name" inside el from v[name].
  function fill(el, v) {
    el.querySelectorAll("[data-f]").forEach(function (c) {
      var f = c.getAttribute("data-f");
      if (v[f] !== undefined) c.textContent = v[f];
    });
    el.classList.toggle("warn", !!v.warn);
  }
  function apply(data) {
    if (!data || !data.nodes) return;
    document.querySelectorAll("[data-node]").forEach(function (el) {
      var n = data.nodes[el.getAttribute("data-node")];
      if (!n) return;
      var sub = el.querySelector(".sub");
      if (sub) sub.textContent = n.sub;
      fill(el, n);
    });
    document.querySelectorAll("[data-group]").forEach(function (el) {
      var g = (data.groups || {})[el.getAttribute("data-group")];
      if (g) fill(el, g);
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
