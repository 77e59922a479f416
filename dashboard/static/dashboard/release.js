/* The release page: renders what /ws/releases/<id>/ sends, without reloading the page. */
(function () {
  "use strict";
  var L = window.DashLive, pick = L.pick, el = L.el;
  var cfgNode = document.getElementById("release-config");
  if (!cfgNode) return;
  var cfg = JSON.parse(cfgNode.textContent);
  var pods = {}, steps = {}, stepOrder = [];

  function $(id) { return document.getElementById(id); }

  function setState(state) {
    if (!state) return;
    var badge = $("release-state");
    if (!badge || badge.getAttribute("data-state") === state) return;
    badge.setAttribute("data-state", state);
    badge.className = "state state-" + state;
    badge.textContent = state.replace(/_/g, " ");
  }

  var refreshing = false, again = false;
  function refresh() {
    // The durable parts (state, timeline, failure card, buttons) are rendered by the server.
    if (refreshing) { again = true; return; }
    refreshing = true;
    fetch(cfg.fragmentUrl, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (body) {
        if (!body) return;
        Object.keys(body.fragments || {}).forEach(function (name) {
          var node = $("frag-" + name);
          if (node && node.getAttribute("data-html") !== body.fragments[name]) {
            node.innerHTML = body.fragments[name];
            node.setAttribute("data-html", body.fragments[name]);
          }
        });
        setState(body.state);
      })
      .catch(function () { /* next poll or message tries again */ })
      .then(function () {
        refreshing = false;
        if (again) { again = false; setTimeout(refresh, 200); }
      });
  }
  // A queued release's place in line changes with other releases' moves, which its own
  // stream does not carry: re-read the summary every few seconds while it waits.
  setInterval(function () {
    var badge = $("release-state");
    if (badge && badge.getAttribute("data-state") === "queued" && !document.hidden) refresh();
  }, 3000);
  var refreshTimer = null;
  function refreshSoon() {
    if (refreshTimer) return;
    refreshTimer = setTimeout(function () { refreshTimer = null; refresh(); }, 250);
  }

  // --- pods ---------------------------------------------------------------------------------
  function podReady(p) {
    var r = pick(p, "ready");
    if (typeof r === "boolean") return r ? "ready" : "not ready";
    if (r !== undefined) return String(r);
    return "";
  }
  function renderPods() {
    var body = $("pods-body");
    if (!body) return;
    var names = Object.keys(pods).sort();
    body.textContent = "";
    if (!names.length) {
      var tr = el("tr"); var td = el("td", { colspan: "6" }, "No pods reported yet.");
      tr.appendChild(td); body.appendChild(tr); return;
    }
    names.forEach(function (name) {
      var p = pods[name];
      var tr = el("tr", { "data-pod": name });
      tr.appendChild(el("td", { "class": "mono" }, name));
      tr.appendChild(el("td", null, pick(p, "phase", "status") || ""));
      tr.appendChild(el("td", null, podReady(p)));
      tr.appendChild(el("td", null, pick(p, "restarts", "restart_count") || 0));
      tr.appendChild(el("td", null, L.age(pick(p, "started", "created", "started_at", "created_at", "start_time"))));
      tr.appendChild(el("td", null, pick(p, "reason", "waiting_reason", "message") || ""));
      body.appendChild(tr);
    });
    var count = $("pods-count");
    if (count) count.textContent = String(names.length);
  }
  function applyPod(p) {
    var name = pick(p, "name", "pod");
    if (!name) return;
    var gone = pick(p, "deleted") || (pick(p, "event", "change", "action") === "DELETED");
    if (gone) delete pods[name]; else pods[name] = p;
  }

  // --- rollout ------------------------------------------------------------------------------
  function applyRollout(r) {
    if (!r) return;
    ["desired", "updated", "ready", "available"].forEach(function (k) {
      var node = $("rollout-" + k);
      if (node && r[k] !== undefined && r[k] !== null) node.textContent = String(r[k]);
    });
    var desired = Number(pick(r, "desired") || 0);
    var updated = Number(pick(r, "updated") || 0), available = Number(pick(r, "available") || 0);
    L.setBar($("rollout-bar"), r.done ? desired : Math.min(updated, available), desired);
    var msg = $("rollout-message");
    if (msg && r.message !== undefined) msg.textContent = r.message || "";
  }

  // --- build ----------------------------------------------------------------------------------
  function stepDuration(s) {
    var secs = pick(s, "seconds", "duration");
    if (secs !== undefined) return Number(secs).toFixed(1) + "s";
    var a = pick(s, "started", "started_at", "start_time"), b = pick(s, "finished", "finished_at", "end_time");
    if (!a) return "";
    var ta = typeof a === "number" ? a * 1000 : Date.parse(a);
    var tb = b ? (typeof b === "number" ? b * 1000 : Date.parse(b)) : Date.now();
    if (isNaN(ta) || isNaN(tb)) return "";
    return ((tb - ta) / 1000).toFixed(1) + "s" + (b ? "" : " \u2026");
  }
  // The server sends each step's status in words ("label"); older rows only have the enum.
  var STEP_WORDS = { STATUS_UNKNOWN: "not started", PENDING: "pending", QUEUED: "queued",
    WORKING: "running", SUCCESS: "succeeded", FAILURE: "failed", TIMEOUT: "timed out",
    INTERNAL_ERROR: "failed (Cloud Build internal error)", CANCELLED: "cancelled", EXPIRED: "expired" };
  function stepWords(s, status) {
    return pick(s, "label") || STEP_WORDS[status] || status.replace(/_/g, " ").toLowerCase();
  }
  function applySteps(list) {
    (list || []).forEach(function (s, i) {
      var key = String(pick(s, "id", "index", "name") || i);
      if (!(key in steps)) stepOrder.push(key);
      steps[key] = Object.assign({}, steps[key] || {}, s);
    });
    var body = $("steps-body");
    if (!body) return;
    body.textContent = "";
    var done = 0;
    stepOrder.forEach(function (key) {
      var s = steps[key];
      var status = String(pick(s, "status") || "");
      if (/SUCCESS|FAILURE|TIMEOUT|CANCELLED|INTERNAL_ERROR|EXPIRED|done/i.test(status)) done += 1;
      var tr = el("tr");
      tr.appendChild(el("td", null, pick(s, "name", "id") || key));
      tr.appendChild(el("td", { "data-status": status }, stepWords(s, status)));
      tr.appendChild(el("td", null, stepDuration(s)));
      body.appendChild(tr);
    });
    var total = Number(pick(window.__buildTotals || {}, "total") || stepOrder.length);
    L.setBar($("build-bar"), done, total);
    var label = $("build-bar-label");
    if (label) label.textContent = done + " of " + total + " steps finished";
  }

  // --- events, logs, verification ---------------------------------------------------------------
  // On a release page: only events of the release's Deployment, ReplicaSets and pods, from
  // when it started rolling out (5 s of clock skew allowed) until it ended.
  function inScope(e) {
    var scope = cfg.eventScope;
    if (!scope) return true;
    var obj = String(pick(e, "object") || ""), i = obj.indexOf("/");
    var kind = obj.slice(0, i), name = obj.slice(i + 1), dep = scope.deployment;
    if (!((kind === "Deployment" && name === dep) ||
          ((kind === "ReplicaSet" || kind === "Pod") && name.indexOf(dep + "-") === 0))) return false;
    var at = Date.parse(pick(e, "at") || "");
    if (isNaN(at) || !scope.since) return !scope.since;
    if (at < Date.parse(scope.since) - 5000) return false;
    return !scope.until || at <= Date.parse(scope.until) + 5000;
  }
  function addK8sEvent(e, atTop) {
    var body = $("k8s-events-body");
    if (!body || !inScope(e)) return;
    var empty = body.querySelector("[data-empty]");
    if (empty) empty.parentNode.removeChild(empty);
    var tr = el("tr", { "class": (pick(e, "type") === "Warning") ? "warning" : "" });
    tr.appendChild(el("td", null, L.clock(pick(e, "at", "last_timestamp", "lastTimestamp", "time", "event_time"))));
    tr.appendChild(el("td", null, pick(e, "type") || ""));
    tr.appendChild(el("td", null, pick(e, "reason") || ""));
    var obj = pick(e, "object", "involved_object", "involvedObject", "name");
    if (obj && typeof obj === "object") obj = (obj.kind ? obj.kind + "/" : "") + (obj.name || "");
    tr.appendChild(el("td", { "class": "mono" }, obj || ""));
    tr.appendChild(el("td", null, pick(e, "message") || ""));
    if (atTop && body.firstChild) body.insertBefore(tr, body.firstChild); else body.appendChild(tr);
    while (body.children.length > 25) body.removeChild(body.lastChild);
  }
  function logText(d) {
    var text = pick(d, "text", "chunk", "line", "lines");
    if (Array.isArray(text)) text = text.join("\n");
    if (text === undefined) return "";
    text = String(text);
    return text.endsWith("\n") ? text : text + "\n";
  }
  function addPodLog(d) {
    var text = logText(d);
    var pod = pick(d, "pod", "name");
    if (pod && text) text = text.split("\n").map(function (l) { return l ? "[" + pod + "] " + l : l; }).join("\n");
    L.tail($("pod-log"), text, 200);
  }
  function addVerify(d) {
    var list = $("verify-list");
    if (!list) return;
    var empty = list.querySelector("[data-empty]");
    if (empty) empty.parentNode.removeChild(empty);
    var ok = pick(d, "ok", "passed", "healthy");
    if (ok === undefined && d.needed !== undefined) ok = Number(d.passes) >= Number(d.needed);
    if (d.message) {
      list.appendChild(el("li", { "class": ok === false ? "warning" : "" },
        (ok === true ? "passed \u2014 " : ok === false ? "not passing \u2014 " : "") + d.message));
      return;
    }
    var text = [
      ok === true ? "passed" : ok === false ? "not passing" : "",
      pick(d, "check", "name", "path") || "",
      pick(d, "status", "code") !== undefined ? "HTTP " + pick(d, "status", "code") : "",
      pick(d, "message", "detail", "body") || ""
    ].filter(Boolean).join(" \u2014 ");
    list.appendChild(el("li", { "class": ok === false ? "warning" : "" }, text));
  }

  // --- wiring -----------------------------------------------------------------------------------
  function applyRelease(r) {
    if (!r) return;
    setState(pick(r, "state"));
    applySteps(pick(r, "build_steps", "steps"));
  }

  function onSnapshot(data) {
    var rel = pick(data, "release");
    applyRelease(rel);
    if (data.build) {
      applySteps(pick(data.build, "steps"));
      if (data.build.log) { var pre = $("build-log"); if (pre) pre.textContent = ""; L.tail(pre, logText({ text: data.build.log }), 200); }
    }
    if (data.build_steps || data.steps) applySteps(data.build_steps || data.steps);
    if (data.build_log) { var p = $("build-log"); if (p) { p.textContent = ""; L.tail(p, logText({ text: data.build_log }), 200); } }
    if (Array.isArray(data.pods)) { pods = {}; data.pods.forEach(applyPod); renderPods(); }
    if (data.rollout) applyRollout(data.rollout);
    var evs = pick(data, "k8s_events", "events");
    if (Array.isArray(evs)) {
      var body = $("k8s-events-body");
      if (body) body.textContent = "";
      evs.slice().reverse().forEach(function (e) { addK8sEvent(e, false); });
    }
    var logs = pick(data, "podlogs", "pod_logs", "podlog");
    if (Array.isArray(logs)) logs.forEach(addPodLog);
    var verify = pick(data, "verify", "verification");
    if (Array.isArray(verify)) verify.forEach(addVerify);
    refreshSoon();
  }

  function onMessage(type, data) {
    switch (type) {
      case "release.state": setState(pick(data, "state", "to")); refreshSoon(); break;
      case "release.event": if (data.state) setState(data.state); refreshSoon(); break;
      case "build.step": applySteps(Array.isArray(data.steps) ? data.steps : [data]); break;
      case "build.log": L.tail($("build-log"), logText({ text: pick(data, "text", "message") }), 200); break;
      case "rollout.progress": applyRollout(data); break;
      case "pod": applyPod(data); renderPods(); break;
      case "k8s.event": addK8sEvent(data, true); break;
      case "podlog": addPodLog(data); break;
      case "verify": addVerify(data); break;
      // The pre-deploy Job's output goes where pod logs go; a rollout step re-renders the
      // summary (step, bake countdown) and the Continue now / Roll back buttons.
      case "predeploy.log": L.tail($("pod-log"), logText({ text: pick(data, "text", "message") }), 200); break;
      case "rollout.step": refreshSoon(); break;
      case "lock": case "pause": refreshSoon(); break;
      default: break;
    }
  }

  // The bake countdown ticks locally between server renders (data-bake-until is ISO time).
  setInterval(function () {
    var step = $("rollout-step");
    var until = step && step.getAttribute("data-bake-until");
    var out = step && step.querySelector(".bake-countdown");
    if (until && out) out.textContent = String(Math.max(0, Math.round((Date.parse(until) - Date.now()) / 1000)));
  }, 1000);

  var live = new L.Live({ wsPath: cfg.wsPath, onSnapshot: onSnapshot, onMessage: onMessage, poll: refresh });
  window.dashLive = live;  // for the browser tests and for debugging from the console
  live.start();
})();
