/* The Service page's pod logs: pick a pod and container, read the last lines (optionally of
   the previous, crashed instance), follow new lines as they come, or download the log. */
(function () {
  "use strict";
  var panel = document.getElementById("pod-logs");
  if (!panel) return;
  function $(id) { return document.getElementById(id); }
  var podSel = $("log-pod"), contSel = $("log-container"), out = $("service-pod-log");
  var status = $("log-status"), pods = [], reading = null;
  var MAX_CHARS = 400000;  // keep the page light: older text scrolls out

  function option(value, text) {
    var o = document.createElement("option");
    o.value = value; o.textContent = text; return o;
  }
  function fillContainers() {
    var pod = pods.filter(function (p) { return p.name === podSel.value; })[0];
    var keep = contSel.value || panel.getAttribute("data-container");
    contSel.textContent = "";
    (pod ? pod.containers : []).forEach(function (c) {
      contSel.appendChild(option(c.name, c.name + (c.restarts ? " (" + c.restarts + " restarts)" : "")));
    });
    if (keep) contSel.value = keep;
    if (!contSel.value && contSel.options.length) contSel.selectedIndex = 0;
    updateDownload();
  }
  function loadPods() {
    return fetch(panel.getAttribute("data-pods-url"), { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (body) {
        pods = body.pods || [];
        var keep = podSel.value;
        podSel.textContent = "";
        pods.forEach(function (p) { podSel.appendChild(option(p.name, p.name + " (" + p.phase + ")")); });
        if (keep) podSel.value = keep;
        if (!podSel.value && podSel.options.length) podSel.selectedIndex = 0;
        status.textContent = body.error ? body.error : (pods.length ? "" : "No pods.");
        fillContainers();
      })
      .catch(function () { status.textContent = "Could not list the pods."; });
  }
  function query(extra) {
    var q = new URLSearchParams({ pod: podSel.value, container: contSel.value,
      tail: $("log-tail").value || "200" });
    if ($("log-previous").checked) q.set("previous", "1");
    Object.keys(extra || {}).forEach(function (k) { q.set(k, extra[k]); });
    return panel.getAttribute("data-log-url") + "?" + q.toString();
  }
  function updateDownload() { $("log-download").setAttribute("href", query({ download: "1" })); }
  function stop() { if (reading) { reading.abort(); reading = null; } }
  function show() {
    stop();
    if (!podSel.value) return;
    var follow = $("log-follow").checked;
    var ctrl = new AbortController();
    reading = ctrl;
    out.textContent = "";
    status.textContent = follow ? "following " + podSel.value + "…" : "";
    fetch(query(follow ? { follow: "1" } : {}), { credentials: "same-origin", signal: ctrl.signal })
      .then(function (r) {
        if (!r.ok) return r.json().then(function (b) { status.textContent = b.detail || ("error " + r.status); });
        var reader = r.body.getReader(), dec = new TextDecoder();
        function pump() {
          return reader.read().then(function (chunk) {
            if (chunk.done) { if (reading === ctrl) status.textContent = follow ? "the log stream ended" : ""; return; }
            var atEnd = out.scrollTop + out.clientHeight >= out.scrollHeight - 4;
            out.textContent = (out.textContent + dec.decode(chunk.value, { stream: true })).slice(-MAX_CHARS);
            out.setAttribute("data-lines", String(out.textContent.split("\n").length - 1));
            if (atEnd) out.scrollTop = out.scrollHeight;
            return pump();
          });
        }
        return pump();
      })
      .catch(function (e) { if (e.name !== "AbortError") status.textContent = "the log stream broke: " + e; });
  }
  podSel.addEventListener("change", function () { fillContainers(); show(); });
  contSel.addEventListener("change", function () { updateDownload(); show(); });
  $("log-previous").addEventListener("change", function () { updateDownload(); show(); });
  $("log-tail").addEventListener("change", updateDownload);
  $("log-follow").addEventListener("change", show);
  $("log-show").addEventListener("click", show);
  $("log-refresh-pods").addEventListener("click", loadPods);
  loadPods().then(show);
})();
