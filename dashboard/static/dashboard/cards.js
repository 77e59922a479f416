/* Service cards on the admin index follow /ws/services/<name>/: replicas and health from the
 * rollout rows; when a release changes state or the lock/pause changes, the card is re-rendered
 * by the server (card.json) and swapped in place. */
(function () {
  "use strict";
  var L = window.DashLive;
  if (!L || !window.WebSocket) return;
  document.querySelectorAll(".dash-card[data-service]").forEach(function (card) {
    var name = card.getAttribute("data-service");
    var body = card.querySelector(".card-body");
    var timer = null;

    function refresh() {
      timer = null;
      fetch(card.getAttribute("data-card-url"), { credentials: "same-origin" })
        .then(function (r) { return r.ok ? r.json() : null; })
        .then(function (data) { if (data && body) body.innerHTML = data.html; })
        .catch(function () { /* the next change tries again */ });
    }
    function refreshSoon() { if (!timer) timer = setTimeout(refresh, 300); }

    function rollout(r) {
      var desired = Number(r.desired || 0);
      var ready = Number(r.available !== undefined ? r.available : r.ready || 0);
      var label = card.querySelector("[data-live=replicas]");
      if (label) label.textContent = ready + "/" + desired + " ready";
      L.setBar(card.querySelector("[data-live=replicas-bar]"), Math.min(ready, desired), desired);
      var health = card.querySelector("[data-live=health]");
      if (health) {
        var h = desired && ready >= desired ? "healthy" : (ready === 0 && desired ? "down" : "degraded");
        health.textContent = h;
        health.className = "badge badge-" + (h === "healthy" ? "ok" : "bad");
      }
    }
    new L.Live({
      wsPath: "/ws/services/" + encodeURIComponent(name) + "/",
      connId: "conn-" + name,
      onSnapshot: function (data) { if (data.rollout) rollout(data.rollout); },
      onMessage: function (type, data) {
        if (type === "rollout.progress") rollout(data);
        else if (type === "release.state" || type === "lock" || type === "pause") refreshSoon();
      },
      poll: refreshSoon
    }).start();
  });
})();
