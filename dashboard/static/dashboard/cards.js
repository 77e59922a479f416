/* Service cards on the admin index: replicas, health and lock follow /ws/services/<name>/. */
(function () {
  "use strict";
  var L = window.DashLive;
  if (!L || !window.WebSocket) return;
  document.querySelectorAll(".dash-card[data-service]").forEach(function (card) {
    var name = card.getAttribute("data-service");
    var pods = {};
    var conn = document.createElement("span");
    conn.className = "conn conn-connecting";
    conn.id = "conn-" + name;
    conn.setAttribute("role", "status");
    var actions = card.querySelector(".dash-actions");
    if (actions) actions.appendChild(conn);

    function rollout(r) {
      var desired = Number(r.desired || 0), ready = Number(r.available !== undefined ? r.available : r.ready || 0);
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
      connId: conn.id,
      onSnapshot: function (data) { if (data.rollout) rollout(data.rollout); },
      onMessage: function (type, data) { if (type === "rollout.progress") rollout(data); }
    }).start();
  });
})();
