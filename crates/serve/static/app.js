// The drawing page: strokes on a canvas, sent as PNG to POST /predict while drawing.
"use strict";

const pad = document.getElementById("pad");
const ctx = pad.getContext("2d");
const prediction = document.getElementById("prediction");
const status = document.getElementById("status");
const barList = document.getElementById("bars");

const strokes = [];   // each stroke: [{x, y}, ...] in canvas pixels
let current = null;   // the stroke being drawn
let drawn = 0;        // version of the drawing
let inFlight = false; // a request is out
let bars = [];

function lineWidth() { return pad.width / 14; }

function redraw() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  ctx.strokeStyle = "#000";
  ctx.fillStyle = "#000";
  ctx.lineWidth = lineWidth();
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of strokes) {
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0].x, s[0].y, lineWidth() / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(s[0].x, s[0].y);
    for (const p of s.slice(1)) ctx.lineTo(p.x, p.y);
    ctx.stroke();
  }
}

function point(event) {
  const r = pad.getBoundingClientRect();
  return {
    x: (event.clientX - r.left) * pad.width / r.width,
    y: (event.clientY - r.top) * pad.height / r.height,
  };
}

function changed() {
  drawn += 1;
  prediction.dataset.drawn = String(drawn);
  redraw();
  send();
}

pad.addEventListener("pointerdown", (event) => {
  event.preventDefault();
  pad.setPointerCapture(event.pointerId);
  current = [point(event)];
  strokes.push(current);
  changed();
});
pad.addEventListener("pointermove", (event) => {
  if (!current) return;
  event.preventDefault();
  const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
  for (const e of (events.length ? events : [event])) current.push(point(e));
  changed();
});
for (const type of ["pointerup", "pointercancel"]) {
  pad.addEventListener(type, () => { current = null; });
}

document.getElementById("undo").addEventListener("click", () => {
  strokes.pop();
  current = null;
  changed();
});
document.getElementById("clear").addEventListener("click", () => {
  strokes.length = 0;
  current = null;
  changed();
});

function show(result, version) {
  prediction.textContent = result ? result.label : "–";
  prediction.dataset.shown = String(version);
  prediction.dataset.class = result ? String(result.class) : "";
  bars.forEach((bar, i) => {
    const p = result ? result.probabilities[i] : 0;
    bar.row.dataset.probability = String(p);
    bar.row.classList.toggle("top", !!result && i === result.class);
    bar.fill.style.width = (100 * p).toFixed(2) + "%";
    bar.value.textContent = (100 * p).toFixed(1) + "%";
  });
}

// At most one request at a time; when the drawing changed meanwhile, send it again.
function send() {
  if (inFlight) return;
  const version = drawn;
  if (strokes.length === 0) {
    show(null, version);
    status.textContent = "Draw in the box.";
    status.classList.remove("error");
    return;
  }
  inFlight = true;
  pad.toBlob(async (blob) => {
    try {
      const response = await fetch("/predict", {
        method: "POST",
        headers: { "Content-Type": "image/png" },
        body: blob,
      });
      const body = await response.json();
      if (!response.ok) throw new Error(body.error || response.statusText);
      show(body, version);
      status.textContent = "";
      status.classList.remove("error");
    } catch (error) {
      show(null, version);
      status.textContent = String(error.message || error);
      status.classList.add("error");
    } finally {
      inFlight = false;
      if (version !== drawn) send();
    }
  }, "image/png");
}

async function start() {
  redraw();
  try {
    const info = await (await fetch("/info")).json();
    const digits = info.class_names.every((n) => /^[0-9]$/.test(n));
    document.getElementById("what").textContent = digits ? "a digit" : "a character";
    document.getElementById("model").textContent =
      `Model “${info.name}”, input ${info.input_shape.join("×")}, ${info.class_names.length} classes.`;
    bars = info.class_names.map((name) => {
      const row = document.createElement("li");
      row.className = "bar";
      row.dataset.probability = "0";
      row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="value">0.0%</span>';
      row.querySelector(".name").textContent = name;
      barList.appendChild(row);
      return { row, fill: row.querySelector(".fill"), value: row.querySelector(".value") };
    });
    document.body.dataset.ready = "true";
  } catch (error) {
    status.textContent = "Cannot reach the server: " + error;
    status.classList.add("error");
  }
}

start();
