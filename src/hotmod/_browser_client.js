// hotmod's page script: reload after each applied reload, an overlay after a failed one.
// Served at /__hotmod__/client.js by the dev servers; one EventSource per tab.
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || window.__hotmod__) return;
  var page = {
    boot: script.getAttribute("data-hotmod-boot"),
    pid: script.getAttribute("data-hotmod-pid"),
    version: script.getAttribute("data-hotmod-version"),
    served: Number(script.getAttribute("data-hotmod-served")),
  };
  var versions = {};  // pid -> the version of the code that process last said it runs
  versions[page.pid] = page.version;
  var state = { planned: true, boot: page.boot, versions: versions, overlay: null };
  window.__hotmod__ = state;

  function reload() {
    state.reloading = true;
    window.location.reload();
  }

  function el(tag, style, text) {
    var node = document.createElement(tag);
    if (style) node.setAttribute("style", style);
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function hide() {
    if (state.overlay) state.overlay.remove();
    state.overlay = null;
  }

  function show(error) {
    hide();
    var box = el(
      "div",
      "position:fixed;left:0;right:0;bottom:0;max-height:50vh;overflow:auto;z-index:2147483647;" +
        "background:#1e1e1e;color:#f0f0f0;font:13px/1.45 ui-monospace,Menlo,Consolas,monospace;" +
        "border-top:4px solid #e5484d;padding:12px 16px;box-shadow:0 -4px 16px rgba(0,0,0,.4);" +
        "text-align:left"
    );
    box.id = "__hotmod_overlay__";
    box.setAttribute("role", "alert");
    var close = el(
      "button",
      "float:right;background:none;border:1px solid #666;color:#ccc;cursor:pointer;" +
        "font:inherit;padding:0 6px",
      "\u00d7"
    );
    close.title = "Hide (the page keeps running the last good code)";
    close.onclick = hide;
    box.appendChild(close);
    box.appendChild(
      el("div", "color:#ff8589;font-weight:bold", error.type + ": " + error.message)
    );
    if (error.file) {
      box.appendChild(
        el("div", "color:#aaa;margin:4px 0 8px", error.file + (error.line ? ", line " + error.line : ""))
      );
    }
    if (error.lines && error.lines.length) {
      var pre = el("pre", "margin:0;padding:6px 0;background:#111;overflow:auto");
      error.lines.forEach(function (pair) {
        var mark = pair[0] === error.line;
        pre.appendChild(
          el(
            "div",
            "padding:0 8px;white-space:pre" + (mark ? ";background:#4a1d1f;color:#fff" : ";color:#bbb"),
            (mark ? "> " : "  ") + String(pair[0]).padStart(4, " ") + " | " + pair[1]
          )
        );
      });
      box.appendChild(pre);
    }
    box.appendChild(
      el(
        "div",
        "color:#888;margin-top:8px",
        "hotmod: the edit was rolled back; this page runs the last good code. Fix and save."
      )
    );
    (document.body || document.documentElement).appendChild(box);
    state.overlay = box;
  }

  function hello(data) {
    var pid = String(data.pid);
    // Another boot id: the server was restarted, unless the stream was expected to end
    // ("bye") or this is the page's first hello (another worker of a server whose workers
    // each import the app). Either way, a boot made after this page was served is a restart:
    // the server restarted before the page's stream connected.
    var restarted =
      data.boot !== state.boot && (!state.planned || Number(data.booted) > page.served);
    var missed = pid in versions && versions[pid] !== String(data.version);
    state.boot = data.boot;
    versions[pid] = String(data.version);
    state.planned = false;
    if (restarted || missed) return reload();
    if (data.error) show(data.error);
    else hide();
  }

  function connect() {
    var source = new EventSource(new URL("events", script.src).href);
    source.addEventListener("hotmod", function (message) {
      var data = JSON.parse(message.data);
      if (data.kind === "hello") hello(data);
      else if (data.kind === "bye") state.planned = true;
      else if (data.kind === "reload") reload();
      else if (data.kind === "error") show(data.error);
    });
    source.onerror = function () {
      // The stream ended: planned (after "bye") or not (the server stopped). EventSource
      // reconnects by itself; the next "hello" tells whether the server was restarted. It
      // gives up for good when an answer was not a stream (a server still starting, a proxy's
      // error page): then a new one is opened a moment later.
      if (source.readyState === 2) setTimeout(connect, 1000);
    };
  }
  connect();
})();
