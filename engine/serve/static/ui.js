// Mendflow web UI: live pages over Server-Sent Events. Written for this project, no library.
// The server renders every page (escaped); this script only recolours plan nodes, moves
// status words and re-fetches server-rendered fragments when the event stream says
// something changed. Without it the pages still work, only not live.
"use strict";

(function () {
  var body = document.body;
  var page = body.getAttribute("data-page");

  function flash(text) {
    var el = document.getElementById("flash");
    if (!el) { return; }
    el.textContent = text;
    el.hidden = !text;
  }

  // Swap a container's content for a fresh server-rendered fragment; at most one request
  // in flight, and one more if something changed meanwhile.
  function refresher(url, container) {
    var busy = false, again = false;
    function run() {
      if (busy) { again = true; return; }
      busy = true;
      fetch(url, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { container.innerHTML = html; })
        .catch(function (why) { flash("Could not refresh the page (" + why + ")."); })
        .then(function () { busy = false; if (again) { again = false; run(); } });
    }
    return run;
  }

  function setStatus(el, status) {
    el.textContent = status;
    el.className = el.className.replace(/\bst-[a-z_]+/g, "").trim() + " st-" + status;
    el.setAttribute("data-status", status);
  }

  // Forms marked js-post are sent without leaving the page: the event stream shows the result.
  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    if (!form.classList || !form.classList.contains("js-post")) { return; }
    ev.preventDefault();
    var buttons = form.querySelectorAll("button");
    buttons.forEach(function (b) { b.disabled = true; });
    fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: { "X-Requested-With": "fetch",
                 "Content-Type": "application/x-www-form-urlencoded" },
      body: new URLSearchParams(new FormData(form)).toString()
    }).then(function (r) {
      if (r.ok) { flash(""); return; }
      return r.json().then(function (j) { flash(j.detail || ("Refused: " + r.status)); },
                           function () { flash("Refused: " + r.status); });
    }).catch(function () { flash("The server did not answer."); })
      .then(function () {
        buttons.forEach(function (b) { b.disabled = false; });
        if (window.mendflowRefresh) { window.mendflowRefresh(); }
      });
  });

  if (page === "run") {
    var runId = body.getAttribute("data-run");
    var base = "/ui/runs/" + encodeURIComponent(runId);
    var detail = document.getElementById("run-detail");
    var refresh = refresher(base + "/detail", detail);
    window.mendflowRefresh = refresh;
    var source = new EventSource(base + "/events");
    source.addEventListener("step", function (ev) {
      var d = JSON.parse(ev.data);
      var node = document.getElementById("step-" + d.id);
      if (node) { node.setAttribute("data-status", d.status); }
      refresh();
    });
    source.addEventListener("run", function (ev) {
      var d = JSON.parse(ev.data);
      setStatus(document.getElementById("run-status"), d.status);
      document.getElementById("run-outcome").textContent = d.outcome || "";
      var cancel = document.getElementById("cancel-form");
      if (cancel && d.status !== "running") { cancel.hidden = true; }
      refresh();
    });
    source.addEventListener("straggler", function (ev) {
      var d = JSON.parse(ev.data);
      var node = document.getElementById("step-" + d.step);
      if (node) { node.setAttribute("data-straggler", "1"); }
      refresh();
    });
    source.addEventListener("questions", function () { refresh(); });
    source.addEventListener("end", function () {
      source.close();
      body.setAttribute("data-live", "ended");
      refresh();
    });
    source.onopen = function () { body.setAttribute("data-live", "open"); };
    // A click on a step of the graph shows its row in the table below.
    var graph = document.getElementById("graph");
    if (graph) {
      graph.addEventListener("click", function (ev) {
        var node = ev.target.closest ? ev.target.closest("g.step") : null;
        if (!node) { return; }
        var row = document.getElementById("row-" + node.id.slice("step-".length));
        if (row) { row.scrollIntoView({ behavior: "smooth", block: "center" }); }
      });
    }
  }

  if (page === "runs") {
    var tbody = document.getElementById("runs-body");
    var refreshRuns = refresher("/ui/runs/table" + window.location.search, tbody);
    var runs = new EventSource("/ui/runs/events");
    runs.addEventListener("runs", function () { refreshRuns(); });
    runs.onopen = function () { body.setAttribute("data-live", "open"); };
  }
})();
