/* callstream console: charts from JSON islands, transcript seeking and highlighting,
   drag-and-drop upload with progress and live status. No inline scripts (strict CSP). */
(function () {
  "use strict";

  var PALETTE = ["#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0e7490", "#a16207"];

  function chartConfig(spec) {
    var datasets = spec.datasets.map(function (d, i) {
      var colour = d.color || PALETTE[i % PALETTE.length];
      var many = spec.type === "pie" || spec.type === "doughnut";
      return Object.assign({
        borderColor: many ? "#ffffff" : colour,
        backgroundColor: many ? (spec.colours || spec.labels.map(function (_, j) { return PALETTE[j % PALETTE.length]; }))
                              : (spec.type === "line" || spec.type === "radar" ? colour + "33" : colour),
        borderWidth: 2,
        pointRadius: 3,
        fill: spec.type === "radar"
      }, d);
    });
    var options = { responsive: true, maintainAspectRatio: false, animation: false,
                    plugins: { legend: { display: datasets.length > 1 || spec.type === "pie" || spec.type === "doughnut" } } };
    if (spec.type === "radar") {
      options.scales = { r: { min: spec.scale ? spec.scale.min : 0, max: spec.scale ? spec.scale.max : 5,
                              ticks: { stepSize: 1 } } };
    } else if (spec.type !== "pie" && spec.type !== "doughnut") {
      options.scales = { y: { beginAtZero: true } };
      if (spec.scale) { options.scales.y.min = spec.scale.min; options.scales.y.max = spec.scale.max; }
      if (spec.stacked) { options.scales.x = { stacked: true }; options.scales.y.stacked = true; }
    }
    return { type: spec.type, data: { labels: spec.labels, datasets: datasets }, options: options };
  }

  function drawCharts(root) {
    if (!window.Chart) { return; }
    root.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      if (canvas.dataset.drawn) { return; }
      var island = document.getElementById(canvas.dataset.chart);
      if (!island) { return; }
      canvas.dataset.drawn = "1";
      new window.Chart(canvas, chartConfig(JSON.parse(island.textContent)));
    });
  }

  function player() { return document.getElementById("player"); }

  function seek(seconds) {
    var audio = player();
    if (!audio) { return; }
    audio.currentTime = seconds;
    var playing = audio.play();
    if (playing && playing.catch) { playing.catch(function () { /* paused by the user or policy */ }); }
  }

  function highlight() {
    var audio = player();
    if (!audio) { return; }
    var t = audio.currentTime;
    document.querySelectorAll(".transcript li").forEach(function (li) {
      var on = t >= parseFloat(li.dataset.start) && t < parseFloat(li.dataset.end);
      if (on && !li.classList.contains("current")) {
        li.classList.add("current");
        li.setAttribute("aria-current", "true");
        li.scrollIntoView({ block: "nearest" });
      } else if (!on && li.classList.contains("current")) {
        li.classList.remove("current");
        li.removeAttribute("aria-current");
      }
    });
  }

  function csrfToken() { return document.body.dataset.csrfToken || ""; }

  function setUpUpload() {
    var form = document.getElementById("upload-form");
    if (!form) { return; }
    var input = document.getElementById("file");
    var zone = document.getElementById("drop-zone");
    var chosen = document.getElementById("chosen-file");
    var picked = null;

    function choose(file) {
      picked = file;
      chosen.textContent = file ? "Selected: " + file.name + " (" + Math.round(file.size / 1024) + " KB)" : "";
    }
    zone.addEventListener("click", function () { input.click(); });
    zone.addEventListener("keydown", function (e) {
      if (e.key === "Enter" || e.key === " ") { e.preventDefault(); input.click(); }
    });
    input.addEventListener("change", function () { choose(input.files[0] || null); });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (name) {
      zone.addEventListener(name, function (e) { e.preventDefault(); zone.classList.remove("over"); });
    });
    zone.addEventListener("drop", function (e) {
      if (e.dataTransfer && e.dataTransfer.files.length) { choose(e.dataTransfer.files[0]); }
    });

    form.addEventListener("submit", function (e) {
      e.preventDefault();
      var error = document.getElementById("upload-error");
      error.hidden = true;
      if (!picked) { error.textContent = "Choose a recording first."; error.hidden = false; return; }
      if (!form.reportValidity()) { return; }
      var data = new FormData();
      ["opportunity_name", "company_name", "title", "rep_id", "conversation_date"].forEach(function (name) {
        var value = form.elements[name].value.trim();
        if (value) { data.append(name, value); }
      });
      form.elements.participants.value.split("\n").forEach(function (line) {
        var name = line.trim();
        if (name) { data.append("participants", name); }
      });
      data.append("file", picked, picked.name);
      var progress = document.getElementById("upload-progress");
      var bar = document.getElementById("progress-bar");
      var text = document.getElementById("progress-text");
      progress.hidden = false;
      document.getElementById("upload-button").disabled = true;
      var xhr = new XMLHttpRequest();
      xhr.open("POST", "/console/upload");
      xhr.setRequestHeader("X-CSRF-Token", csrfToken());
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (ev) {
        if (ev.lengthComputable) {
          bar.value = Math.round(100 * ev.loaded / ev.total);
          text.textContent = bar.value + "%";
        }
      });
      xhr.addEventListener("load", function () {
        document.getElementById("upload-button").disabled = false;
        var body = {};
        try { body = JSON.parse(xhr.responseText); } catch (ignored) { body = {}; }
        if (xhr.status !== 202) {
          error.textContent = (body.error && body.error.message) || ("Upload failed (" + xhr.status + ")");
          error.hidden = false;
          return;
        }
        bar.value = 100; text.textContent = "Uploaded";
        showLiveStatus(body.id);
      });
      xhr.addEventListener("error", function () {
        document.getElementById("upload-button").disabled = false;
        error.textContent = "The upload was interrupted; try again.";
        error.hidden = false;
      });
      xhr.send(data);
    });
  }

  function showLiveStatus(id) {
    var box = document.getElementById("upload-status");
    var page = "/console/conversations/" + id;
    document.body.dataset.finalTarget = page;
    box.innerHTML = "";
    var p = document.createElement("p");
    p.appendChild(document.createTextNode("Processing: "));
    var badge = document.createElement("span");
    badge.id = "status-badge";
    badge.className = "badge status-pending";
    badge.textContent = "pending";
    badge.setAttribute("hx-get", page + "/status");
    badge.setAttribute("hx-trigger", "load, every 2s");
    badge.setAttribute("hx-swap", "outerHTML");
    p.appendChild(badge);
    p.appendChild(document.createTextNode(" "));
    var link = document.createElement("a");
    link.href = page; link.textContent = "Open the call";
    p.appendChild(link);
    box.appendChild(p);
    if (window.htmx) { window.htmx.process(box); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawCharts(document);
    setUpUpload();
    document.body.addEventListener("click", function (e) {
      var button = e.target.closest("[data-seek]");
      if (button) { seek(parseFloat(button.dataset.seek)); }
    });
    var audio = player();
    if (audio) { audio.addEventListener("timeupdate", highlight); audio.addEventListener("seeked", highlight); }
    document.body.addEventListener("conversation-final", function () {
      var target = document.body.dataset.finalTarget;
      if (target) { window.location.assign(target); } else { window.location.reload(); }
    });
    document.body.addEventListener("htmx:afterSwap", function (e) { drawCharts(e.target); });
  });
})();
