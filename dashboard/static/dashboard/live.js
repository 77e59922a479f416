/* Live updates for the dashboard pages over the session-authenticated WebSocket.
 *
 * The socket sends {"type":"snapshot","seq":N,"data":{...}} first, then messages
 * {"stream","seq","type","at","data"}. When the connection drops the page says so, reconnects
 * by itself with ?since=<last seq> and, while it is down, asks the server for the durable state
 * (state, timeline, failure card) so the page stays right. No reloads, no navigation. */
(function () {
  "use strict";

  function pick(obj) {
    if (!obj) return undefined;
    for (var i = 1; i < arguments.length; i++) {
      var v = obj[arguments[i]];
      if (v !== undefined && v !== null) return v;
    }
    return undefined;
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    if (attrs) Object.keys(attrs).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function age(ts) {
    if (!ts) return "";
    var t = typeof ts === "number" ? ts * 1000 : Date.parse(ts);
    if (isNaN(t)) return "";
    var s = Math.max(0, Math.round((Date.now() - t) / 1000));
    if (s < 90) return s + "s";
    if (s < 5400) return Math.round(s / 60) + "m";
    return Math.round(s / 3600) + "h";
  }

  function clock(ts) {
    if (!ts) return "";
    var d = typeof ts === "number" ? new Date(ts * 1000) : new Date(ts);
    return isNaN(d.getTime()) ? "" : d.toISOString().substr(11, 8);
  }

  function setBar(bar, value, total) {
    if (!bar) return;
    var pct = total > 0 ? Math.max(0, Math.min(100, Math.round(100 * value / total))) : 0;
    var fill = bar.querySelector("span");
    if (fill) fill.style.width = pct + "%";
    bar.setAttribute("aria-valuenow", String(pct));
    bar.classList.toggle("done", pct >= 100);
  }

  function tail(pre, text, max) {
    if (!pre || !text) return;
    var atBottom = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
    var lines = (pre.textContent + text).split("\n");
    if (lines.length > max) lines = lines.slice(lines.length - max);
    pre.textContent = lines.join("\n");
    if (atBottom) pre.scrollTop = pre.scrollHeight;
  }

  function Live(opts) {
    this.opts = opts;
    this.seq = 0;
    this.epoch = "";  // of this.seq: numbers restart under a new epoch when Redis was reset
    this.retry = 0;
    this.ws = null;
    this.pollTimer = null;
    this.conn = document.getElementById(opts.connId || "conn");
  }

  Live.prototype.setConn = function (status, detail) {
    if (!this.conn) return;
    var text = detail || {
      live: "live",
      connecting: "connecting\u2026",
      lost: "live connection lost \u2014 reconnecting\u2026"
    }[status];
    this.conn.textContent = text;
    this.conn.className = "conn conn-" + status;
    this.conn.setAttribute("data-status", status);
  };

  Live.prototype.url = function () {
    var proto = location.protocol === "https:" ? "wss://" : "ws://";
    var q = this.seq ? "?since=" + this.seq + "&epoch=" + encodeURIComponent(this.epoch) : "";
    return proto + location.host + this.opts.wsPath + q;
  };

  Live.prototype.connect = function () {
    var self = this;
    self.setConn(self.retry ? "lost" : "connecting");
    var ws;
    try { ws = new WebSocket(self.url()); } catch (e) { self.scheduleReconnect(); return; }
    self.ws = ws;
    ws.onopen = function () { self.retry = 0; self.setConn("live"); self.stopPolling(); };
    ws.onmessage = function (e) {
      var msg;
      try { msg = JSON.parse(e.data); } catch (err) { return; }
      self.receive(msg);
    };
    ws.onclose = function (ev) {
      if (self.ws !== ws) return;
      self.ws = null;
      var refused = { 4401: "signed out: log in again for live updates",
                      4403: "live updates not allowed for you", 4404: "nothing to follow here" };
      if (refused[ev.code]) {  // the server said no: retrying cannot help
        self.setConn("refused", refused[ev.code]);
        return;
      }
      self.setConn("lost");
      self.startPolling();
      self.scheduleReconnect();
    };
    ws.onerror = function () { try { ws.close(); } catch (e) { /* closing anyway */ } };
  };

  Live.prototype.scheduleReconnect = function () {
    var self = this;
    var delay = Math.min(500 * Math.pow(2, self.retry), 8000);
    self.retry += 1;
    setTimeout(function () { self.connect(); }, delay);
  };

  Live.prototype.startPolling = function () {
    var self = this;
    if (self.pollTimer || !self.opts.poll) return;
    self.opts.poll();
    self.pollTimer = setInterval(function () { self.opts.poll(); }, 3000);
  };

  Live.prototype.stopPolling = function () {
    if (this.pollTimer) { clearInterval(this.pollTimer); this.pollTimer = null; }
  };

  Live.prototype.receive = function (msg) {
    if (msg.type === "snapshot") {
      if (typeof msg.seq === "number") this.seq = msg.seq;
      this.epoch = msg.epoch || "";
      this.opts.onSnapshot(msg.data || {}, msg);
      return;
    }
    if (typeof msg.seq === "number") {
      if (msg.seq <= this.seq) return;  // a replayed message we already applied
      this.seq = msg.seq;
      if (msg.epoch) this.epoch = msg.epoch;
    }
    this.opts.onMessage(msg.type, msg.data || {}, msg);
  };

  Live.prototype.start = function () {
    var self = this;
    self.connect();
    // Belt and braces: even with a healthy socket, re-read the durable state now and then.
    if (self.opts.poll) setInterval(function () { if (self.ws) self.opts.poll(); }, 15000);
  };

  window.DashLive = { Live: Live, pick: pick, el: el, age: age, clock: clock, setBar: setBar, tail: tail };
})();
