/* riskvision review page: the video table (sort, filter, counts) and the video view (clip + timelines).
   Plain JavaScript, no library. Data: window.REVIEW_DATA (data.js); a video's timelines arrive from
   series/<k>.js when it is opened (REVIEW.addSeries); a clip's src is set only when its video is opened. */
"use strict";
(function () {
  const D = window.REVIEW_DATA;
  const OUTCOMES = D.outcomes;
  const RUN_FIELDS = ["max P", "first alarm s", "TTA s", "FA ep.", "outcome"];
  const series = {};
  const state = { sortCol: -1, desc: false, order: [], current: -1, requested: {} };
  const $ = (id) => document.getElementById(id);
  const video = $("v-video");

  const slug = (text) => String(text).replace(/[^a-z0-9]+/gi, "-").toLowerCase();
  const esc = (text) => String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;",
    '"': "&quot;", "'": "&#39;" })[c]);
  const fmt = (value, digits) => (value === null || value === undefined ? "" : Number(value).toFixed(digits));
  const duration = (v) => v.num_frames / v.fps;
  const outcomeTag = (index) => (index === null || index === undefined ? "" :
    `<span class="o o-${slug(OUTCOMES[index])}">${OUTCOMES[index]}</span>`);
  function mplColor(color, alpha) {  // matplotlib colours of riskvision.figure_style: grey levels "0.6" or names
    if (/^[0-9.]+$/.test(String(color))) {
      const level = Math.round(255 * Number(color));
      return `rgba(${level},${level},${level},${alpha === undefined ? 1 : alpha})`;
    }
    return color;
  }

  // ------------------------------------------------------------------ columns
  const columns = [
    { label: "video", text: true, get: (v) => v.id, html: (v) => esc(v.id) },
    { label: "clip", text: true, get: (v) => (v.clip ? "" : v.missing), cls: (v) => (v.clip ? "clip has" : "clip"),
      html: (v) => (v.clip ? "&#9654; clip" : esc(v.missing)),
      title: (v) => (v.clip ? v.clip : `no clip: ${v.missing}`) },
    { label: "source", text: true, get: (v) => v.source, html: (v) => esc(v.source) },
    { label: "category", text: true, get: (v) => v.category, html: (v) => esc(v.category) },
    { label: "ego", text: true, get: (v) => (v.ego ? "ego" : ""), html: (v) => (v.ego ? "ego" : "") },
    { label: "night", text: true, get: (v) => (v.night ? "night" : ""), html: (v) => (v.night ? "night" : "") },
    { label: "anomaly s", get: (v) => (v.anomaly ? v.anomaly[0] : null),
      html: (v) => (v.anomaly ? `${fmt(v.anomaly[0], 1)}&ndash;${fmt(v.anomaly[1], 1)}` : "") },
    { label: "alert s", get: (v) => v.alert, html: (v) => fmt(v.alert, 1) },
    { label: "length s", get: (v) => duration(v), html: (v) => fmt(duration(v), 1) },
  ];
  D.runs.forEach((run, r) => {
    const cell = (v, i) => (v.runs[r] ? v.runs[r][i] : null);
    columns.push(
      { run: r, first: true, label: "max P", get: (v) => cell(v, 0), html: (v) => fmt(cell(v, 0), 3) },
      { run: r, label: "first alarm s", get: (v) => cell(v, 1), html: (v) => fmt(cell(v, 1), 1) },
      { run: r, label: "TTA s", get: (v) => cell(v, 2), html: (v) => fmt(cell(v, 2), 2) },
      { run: r, label: "FA ep.", key: `fa-${r}`, get: (v) => cell(v, 3), html: (v) => fmt(cell(v, 3), 0) },
      { run: r, text: true, label: "outcome", get: (v) => (cell(v, 4) === null ? null : OUTCOMES[cell(v, 4)]),
        html: (v) => outcomeTag(cell(v, 4)) },
    );
  });

  // ------------------------------------------------------------------ counts (checked against metrics.json)
  // each run's outcomes are its deployed alarm policy replayed at its operating point (else its threshold): the
  // same replay as metrics.json's deployment.operating_point (else deployment.at_threshold)
  const alarmAt = (run) => `${run.basis} ${run.threshold === null ? "(no alarm)" : fmt(run.threshold, 3)}`;
  function renderCounts() {
    const head = ["run", "alarm at", ...OUTCOMES, "FA episodes", "metrics.json (deployment)", "alarm policy"];
    let html = `<tr>${head.map((h) => `<th>${esc(h)}</th>`).join("")}</tr>`;
    D.runs.forEach((run, r) => {
      const counts = OUTCOMES.map(() => 0);
      let episodes = 0;
      D.videos.forEach((v) => {
        const row = v.runs[r];
        if (!row) return;
        counts[row[4]] += 1;
        episodes += row[3] || 0;
      });
      const ref = run.reference;
      const detected = counts[0], positives = counts[0] + counts[1] + counts[2], negatives = counts[3] + counts[4];
      const agrees = ref.detected === detected && ref.n_positive === positives && ref.n_negative === negatives &&
        ref.false_alarms === episodes;
      const check = `${ref.key}: detected ${ref.detected} of ${ref.n_positive} positives, ` +
        `${ref.false_alarms} false alarms ` +
        `in ${ref.n_negative} negatives: ` + (agrees ? '<span class="ok">agrees</span>' :
          '<span class="bad">DIFFERS from the page</span>');
      html += `<tr data-run="${r}"><td>${esc(run.name)}</td><td id="basis-${r}">${esc(alarmAt(run))}</td>` +
        counts.map((n, i) => `<td class="count" id="count-${r}-${slug(OUTCOMES[i])}" data-outcome="${i}">${n}</td>`)
          .join("") + `<td id="episodes-${r}">${episodes}</td><td id="check-${r}">${check}</td>` +
        `<td class="policy" id="policy-${r}">${esc(run.policy)}</td></tr>`;
    });
    $("counts").innerHTML = html;
    $("counts").addEventListener("click", (event) => {
      const cell = event.target.closest("td.count");
      if (!cell) return;
      $("f-run").value = cell.parentElement.dataset.run;
      $("f-outcome").value = cell.dataset.outcome;
      render();
    });
  }

  // ------------------------------------------------------------------ table
  function renderHead() {
    let groups = `<th colspan="${columns.filter((c) => c.run === undefined).length}"></th>`;
    D.runs.forEach((run) => { groups += `<th class="group" colspan="${RUN_FIELDS.length}">${esc(run.name)}</th>`; });
    const labels = columns.map((c, i) => `<th data-col="${i}"${c.first ? ' class="first"' : ""}` +
      `${c.key ? ` id="sort-${c.key}"` : ""}>${esc(c.label)}</th>`).join("");
    document.querySelector("#videos thead").innerHTML = `<tr>${groups}</tr><tr>${labels}</tr>`;
    document.querySelector("#videos thead").addEventListener("click", (event) => {
      const th = event.target.closest("th[data-col]");
      if (!th) return;
      const col = Number(th.dataset.col);
      state.desc = state.sortCol === col ? !state.desc : !columns[col].text;  // numbers: highest first
      state.sortCol = col;
      render();
    });
  }

  function compare(col, desc) {
    const get = columns[col].get;
    return (a, b) => {
      const x = get(D.videos[a]), y = get(D.videos[b]);
      const xEmpty = x === null || x === undefined || x === "", yEmpty = y === null || y === undefined || y === "";
      if (xEmpty || yEmpty) return xEmpty === yEmpty ? a - b : xEmpty ? 1 : -1;  // empty cells last
      const order = columns[col].text ? String(x).localeCompare(String(y)) : x - y;
      return (desc ? -order : order) || a - b;
    };
  }

  function visible(v) {
    const outcome = $("f-outcome").value, run = $("f-run").value, source = $("f-source").value;
    const search = $("f-search").value.trim().toLowerCase();
    if (source && v.source !== source) return false;
    if (search && !v.id.toLowerCase().includes(search)) return false;
    if (outcome !== "") {
      const runs = run === "" ? v.runs : [v.runs[Number(run)]];
      if (!runs.some((row) => row && row[4] === Number(outcome))) return false;
    }
    if ($("f-disagree").checked) {
      const seen = new Set(v.runs.filter((row) => row).map((row) => row[4]));
      if (seen.size < 2) return false;
    }
    return true;
  }

  function render() {
    const order = D.videos.map((_, k) => k).filter((k) => visible(D.videos[k]));
    if (state.sortCol >= 0) order.sort(compare(state.sortCol, state.desc));
    state.order = order;
    const parts = order.map((k) => {
      const v = D.videos[k];
      const cells = columns.map((c) => {
        const cls = [c.cls ? c.cls(v) : c.text ? "" : "num", c.first ? "first" : ""].join(" ").trim();
        const title = c.title ? ` title="${esc(c.title(v) || "")}"` : "";
        return `<td${cls ? ` class="${cls}"` : ""}${title}>${c.html(v)}</td>`;
      });
      return `<tr data-k="${k}"${k === state.current ? ' class="current"' : ""}>${cells.join("")}</tr>`;
    });
    document.querySelector("#videos tbody").innerHTML = parts.join("");
    document.querySelectorAll("#videos th[data-col]").forEach((th) => {
      const col = Number(th.dataset.col);
      if (col === state.sortCol) th.setAttribute("aria-sort", state.desc ? "descending" : "ascending");
      else th.removeAttribute("aria-sort");
    });
    $("shown").textContent = `${order.length} of ${D.videos.length} videos`;
  }

  function renderFilters() {
    $("f-outcome").innerHTML = '<option value="">any</option>' +
      OUTCOMES.map((o, i) => `<option value="${i}">${esc(o)}</option>`).join("");
    $("f-run").innerHTML = '<option value="">any run</option>' +
      D.runs.map((run, r) => `<option value="${r}">${esc(run.name)}</option>`).join("");
    const sources = [...new Set(D.videos.map((v) => v.source))].sort();
    $("f-source").innerHTML = '<option value="">all</option>' +
      sources.map((s) => `<option value="${esc(s)}">${esc(s)}</option>`).join("");
    ["f-outcome", "f-run", "f-source", "f-disagree"].forEach((id) => $(id).addEventListener("change", render));
    $("f-search").addEventListener("input", render);
  }

  // ------------------------------------------------------------------ video view
  function open(k) {
    if (k === undefined || k < 0 || k >= D.videos.length) return;
    const v = D.videos[k];
    state.current = k;
    document.querySelectorAll("#videos tbody tr.current").forEach((tr) => tr.classList.remove("current"));
    const row = document.querySelector(`#videos tbody tr[data-k="${k}"]`);
    if (row) { row.classList.add("current"); row.scrollIntoView({ block: "nearest" }); }
    $("viewer").hidden = false;
    $("v-title").textContent = v.id;
    $("v-info").textContent = [v.source, v.category, v.ego ? "ego" : "", v.night ? "night" : "",
      `${fmt(duration(v), 1)} s at ${v.fps} fps`,
      v.anomaly ? `anomaly ${fmt(v.anomaly[0], 1)}-${fmt(v.anomaly[1], 1)} s` : "no anomaly span"]
      .filter((s) => s).join(" \u00b7 ");
    if (v.clip) {
      $("v-missing").hidden = true;
      video.hidden = false;
      video.src = v.clip;
      video.play().catch(() => {});  // muted: autoplay is allowed; a refused play leaves the clip paused
    } else {
      video.pause();
      video.removeAttribute("src");
      video.load();
      video.hidden = true;
      $("v-missing").hidden = false;
      $("v-missing").textContent = `No clip \u2014 ${v.missing}`;
    }
    buildTimelines(k);
    setCursor(0);
    if (series[k]) drawTimelines();
    else if (!state.requested[k]) {
      state.requested[k] = true;
      const script = document.createElement("script");
      script.src = `series/${k}.js`;
      script.onerror = () => { document.querySelectorAll(".timeline .plot").forEach((p) => {
        p.innerHTML = `<div class="empty">series/${k}.js is missing: timelines unavailable</div>`; }); };
      document.body.appendChild(script);
    }
  }

  function close() {
    video.pause();
    video.removeAttribute("src");
    video.load();
    $("viewer").hidden = true;
    state.current = -1;
    document.querySelectorAll("#videos tbody tr.current").forEach((tr) => tr.classList.remove("current"));
  }

  function step(delta) {
    const order = state.order;
    if (!order.length) return;
    const at = order.indexOf(state.current);
    const next = at < 0 ? 0 : Math.min(order.length - 1, Math.max(0, at + delta));
    open(order[next]);
  }

  function togglePlay() {
    if (state.current < 0 || !D.videos[state.current].clip) return;
    if (video.paused) video.play().catch(() => {}); else video.pause();
  }

  function buildTimelines(k) {
    const v = D.videos[k];
    const style = D.style;
    $("v-legend").innerHTML = [
      ["rgba(100,160,230,0.9)", "P(crash)"], ["#0d47a1", "smoothed P"],
      [mplColor(style.threshold.color), "threshold (on smoothed P)"], ["#e53935", "alarm episodes (policy)"],
      ["#7b1fa2", "first alarm"],
      [mplColor(style.anomaly.color, 0.5), "anomaly"],
      [style.warning.color, "alert"], ["#1565c0", "cursor"]]
      .map(([c, name]) => `<span><i style="background:${c}"></i>${name}</span>`).join("");
    $("v-timelines").innerHTML = D.runs.map((run, r) => {
      const row = v.runs[r];
      const summary = row ? `${outcomeTag(row[4])} max P ${fmt(row[0], 3)}` +
        (row[1] !== null ? ` \u00b7 first alarm ${fmt(row[1], 1)} s` : "") +
        (row[2] !== null ? ` \u00b7 TTA ${fmt(row[2], 2)} s` : "") +
        (row[3] !== null ? ` \u00b7 ${row[3]} FA episode${row[3] === 1 ? "" : "s"}` : "") : "not scored by this run";
      return `<div class="timeline" data-run="${r}"><div class="label"><b>${esc(run.name)}</b> ` +
        `<span class="basis">${esc(alarmAt(run))}</span> ${summary}</div>` +
        `<div class="plot"><canvas></canvas><div class="cursor" data-t="0"></div></div>` +
        `<div class="axis"><span>0 s</span><span>${fmt(duration(v) / 2, 1)} s</span>` +
        `<span>${fmt(duration(v), 1)} s</span></div></div>`;
    }).join("");
    document.querySelectorAll(".timeline .plot").forEach((plot) => {
      plot.addEventListener("click", (event) => {
        const box = plot.getBoundingClientRect();
        seek(Math.max(0, Math.min(1, (event.clientX - box.left) / box.width)) * duration(v));
      });
    });
  }

  function drawTimelines() {
    const k = state.current;
    if (k < 0 || !series[k]) return;
    const v = D.videos[k], end = duration(v), style = D.style;
    document.querySelectorAll(".timeline").forEach((block) => {
      const r = Number(block.dataset.run), s = series[k][r], canvas = block.querySelector("canvas");
      if (!canvas) return;
      const dpr = window.devicePixelRatio || 1, w = canvas.clientWidth, h = canvas.clientHeight;
      canvas.width = Math.round(w * dpr);
      canvas.height = Math.round(h * dpr);
      const g = canvas.getContext("2d");
      g.scale(dpr, dpr);
      const x = (t) => (t / end) * w, y = (p) => h - 3 - p * (h - 12);
      if (v.anomaly) {
        g.fillStyle = mplColor(style.anomaly.color, style.anomaly.alpha * 1.6);
        g.fillRect(x(v.anomaly[0]), 0, x(v.anomaly[1]) - x(v.anomaly[0]), h);
      }
      g.strokeStyle = "rgba(0,0,0,0.08)";
      [0.25, 0.5, 0.75].forEach((p) => { g.beginPath(); g.moveTo(0, y(p)); g.lineTo(w, y(p)); g.stroke(); });
      if (!s) return;
      g.fillStyle = "#e53935";
      s.episodes.forEach(([on, off]) => g.fillRect(x(on), 0, Math.max(1.5, x(off) - x(on)), 6));
      const threshold = D.runs[r].threshold;  // null: the operating point is "no alarm"
      if (threshold !== null) {
        g.strokeStyle = mplColor(style.threshold.color);
        g.setLineDash([4, 3]);
        g.beginPath(); g.moveTo(0, y(threshold)); g.lineTo(w, y(threshold)); g.stroke();
        g.setLineDash([]);
      }
      if (v.alert !== null) {
        g.strokeStyle = style.warning.color;
        g.lineWidth = 1.5;
        g.beginPath(); g.moveTo(x(v.alert), 0); g.lineTo(x(v.alert), h); g.stroke();
      }
      const line = (values, color, width) => {
        g.strokeStyle = color;
        g.lineWidth = width;
        g.beginPath();
        s.frames.forEach((f, i) => { if (values[i] === null) return; const px = x(f / v.fps), py = y(values[i]);
          if (i === 0) g.moveTo(px, py); else g.lineTo(px, py); });
        g.stroke();
      };
      const first = v.runs[r] ? v.runs[r][1] : null;  // the outcome's first alarm: the policy's first on-event
      if (first !== null) {
        g.fillStyle = "#7b1fa2";
        g.beginPath(); g.moveTo(x(first), h - 8); g.lineTo(x(first) - 5, h); g.lineTo(x(first) + 5, h); g.fill();
      }
      line(s.p, "rgba(100,160,230,0.9)", 1);
      line(s.smoothed, "#0d47a1", 1.6);
      g.fillStyle = "#555";
      g.font = "10px sans-serif";
      g.fillText("1", 2, y(1) + 8);
      if (threshold !== null) g.fillText(fmt(threshold, 2), 2, y(threshold) - 2);
      block.title = D.runs[r].policy;
    });
  }

  function setCursor(t) {
    const k = state.current;
    if (k < 0) return;
    const end = duration(D.videos[k]);
    const clamped = Math.max(0, Math.min(end, t));
    document.querySelectorAll(".timeline .cursor").forEach((cursor) => {
      cursor.style.left = `${(100 * clamped) / end}%`;
      cursor.dataset.t = clamped.toFixed(3);
    });
    $("v-time").textContent = `${clamped.toFixed(2)} s / ${end.toFixed(2)} s`;
  }

  function seek(t) {
    if (state.current >= 0 && D.videos[state.current].clip) video.currentTime = t;
    setCursor(t);
  }

  function follow() {  // the cursor follows playback, once per displayed frame while playing
    setCursor(video.currentTime);
    if (!video.paused && !video.ended) window.requestAnimationFrame(follow);
  }
  ["timeupdate", "seeked", "seeking", "loadedmetadata"].forEach((name) =>
    video.addEventListener(name, () => setCursor(video.currentTime)));
  video.addEventListener("play", () => { $("v-play").textContent = "pause"; window.requestAnimationFrame(follow); });
  video.addEventListener("pause", () => { $("v-play").textContent = "play"; });
  video.addEventListener("click", togglePlay);
  $("v-play").addEventListener("click", togglePlay);
  $("v-close").addEventListener("click", close);
  document.querySelector("#videos tbody").addEventListener("click", (event) => {
    const tr = event.target.closest("tr[data-k]");
    if (tr) open(Number(tr.dataset.k));
  });
  document.addEventListener("keydown", (event) => {
    const tag = event.target.tagName;
    if (event.ctrlKey || event.metaKey || event.altKey || ["INPUT", "SELECT", "TEXTAREA"].includes(tag)) return;
    const actions = { j: () => step(1), k: () => step(-1), " ": togglePlay, Escape: close };
    if (!actions[event.key]) return;
    event.preventDefault();
    event.stopPropagation();
    actions[event.key]();
  }, true);
  window.addEventListener("resize", drawTimelines);

  window.REVIEW = {
    addSeries(k, value) { series[k] = value; if (k === state.current) drawTimelines(); },
    open, close, step, seek, order: () => state.order.slice(), current: () => state.current,
    cursorTime: () => { const c = document.querySelector(".timeline .cursor"); return c ? Number(c.dataset.t) : null; },
    hasSeries: (k) => Boolean(series[k]),
  };
  document.title = D.title;
  $("title").textContent = D.title;
  renderCounts();
  renderFilters();
  renderHead();
  render();
  window.REVIEW.readyMs = performance.now();  // the table built (ms after navigation start)
  window.requestAnimationFrame(() => window.requestAnimationFrame(() => {
    window.REVIEW.paintedMs = performance.now();  // ... and laid out and painted: the load time the tests report
  }));
})();
