// The Reconstruct tab's drawing canvas (explorer/canvas.py: canvas), run by gr.HTML with `element`, `props`,
// `trigger` and `server`. The page draws each stroke itself as the pointer moves (mouse, pen or
// finger). When a stroke ends, the strokes (a few hundred numbers, no picture) go two ways:
// - to the server function preview_drawing (explorer/canvas.py): one small request outside the
//   queue, whose answer, the model's view and reconstruction inline, is shown beside the canvas;
// - then as the component's value, by an "input" event, which updates the tab's panels, the upload,
//   the latent map and Compare.
// The server draws the same strokes on white paper (canvas.drawing_on_paper) and reads them like a photo.
const canvas = element.querySelector(".sketch-canvas");
const brush = element.querySelector(".sketch-size");
const context = canvas.getContext("2d");
const side = canvas.width;
let strokes = [];
let current = null;

function paint() {
  context.fillStyle = "#fff";
  context.fillRect(0, 0, side, side);
  context.strokeStyle = "#000";
  context.lineCap = "round";
  context.lineJoin = "round";
  for (const stroke of current ? [...strokes, current] : strokes) {
    const [first, ...rest] = stroke.points;
    context.lineWidth = stroke.width;
    context.beginPath();
    context.moveTo(first[0], first[1]);
    for (const [x, y] of rest.length ? rest : [first]) context.lineTo(x, y);
    context.stroke();
  }
}

function at(event) {
  const box = canvas.getBoundingClientRect();
  const scale = (value) => Math.round(value * 10) / 10;
  return [scale(((event.clientX - box.left) * side) / box.width), scale(((event.clientY - box.top) * side) / box.height)];
}

const preview = element.querySelector(".sketch-preview");
let asked = 0; // the previews asked for, in order; an answer older than the one shown is dropped
let shown = 0;

function pageSetting(selector) {
  const control = document.querySelector(selector);
  return control ? control.value : null;
}

async function showPreview(drawing) {
  const ticket = ++asked;
  let answer;
  try {
    answer = await server.preview_drawing({
      model: pageSetting("#model-ready textarea, #model-ready input"),
      class_choice: pageSetting("#class-choice input"),
      as_is: Boolean(document.querySelector("#as-is input[type=checkbox]")?.checked),
      drawing,
    });
  } catch (error) {
    answer = { html: "<p class='canvas-problem'>⚠️ The server did not answer; the panels above still follow.</p>" };
  }
  if (ticket < shown) return false; // a newer drawing's answer is already shown
  shown = ticket;
  preview.innerHTML = answer.html;
  // Decoded and painted before the queued event's work takes the page's thread: the frame after
  // the next animation frame's callbacks has been drawn when a timeout set in them runs.
  await Promise.all([...preview.querySelectorAll("img")].map((img) => img.decode().catch(() => null)));
  await new Promise((painted) => requestAnimationFrame(() => setTimeout(painted, 0)));
  return ticket === asked;
}

function drawing() {
  return { side, strokes: strokes.map((stroke) => ({ width: stroke.width, points: stroke.points })) };
}

async function send() {
  const drawn = drawing();
  // Only the latest drawing goes on to the panels: an older one, answered late, would undo a stroke.
  if (!(await showPreview(drawn))) return;
  props.value = drawn;
  trigger("input");
}

// After a switch of model, class or reading, the preview reads the drawing again (app.py calls it).
window.vaeCanvasRefresh = () => strokes.length && showPreview(drawing());

function finish() {
  if (!current) return;
  strokes.push(current);
  current = null;
  send();
}

canvas.addEventListener("pointerdown", (event) => {
  if (!event.isPrimary || event.button !== 0 || current) return; // one finger, the main button
  canvas.setPointerCapture(event.pointerId);
  current = { width: Number(brush.value), points: [at(event)] };
  paint();
});
canvas.addEventListener("pointermove", (event) => {
  if (!current || !event.isPrimary) return;
  current.points.push(at(event));
  paint();
});
canvas.addEventListener("pointerup", finish);
canvas.addEventListener("pointercancel", finish);
canvas.addEventListener("lostpointercapture", finish);
element.querySelector(".sketch-undo").addEventListener("click", () => {
  if (!strokes.length) return;
  strokes.pop();
  paint();
  send();
});
element.querySelector(".sketch-clear").addEventListener("click", () => {
  if (!strokes.length) return; // an empty canvas stays out of the way of an uploaded photo
  strokes = [];
  paint();
  send();
});
paint();
