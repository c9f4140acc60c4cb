// Draft: the realtime canvas. Each change of the sketch or the prompt sends one
// /generations-lcm request (debounced) stamped with an increasing requestTimestamp; an
// answer older than the picture already shown is dropped, so a slow answer never
// replaces a newer one.
import { api } from "./api.js";
import { OPERATIONS, realtimeSnippets } from "./apicode.js";
import { showCode } from "./codedialog.js";
import { $, debounce } from "./ui.js";

let sent = 0; // the newest timestamp sent
let shown = 0; // the timestamp of the picture on screen
let dropped = 0;
let drawing = false;
let last = null;

const sketch = () => $("#draft-sketch");

function clear() {
  const canvas = sketch();
  const context = canvas.getContext("2d");
  context.fillStyle = "#ffffff";
  context.fillRect(0, 0, canvas.width, canvas.height);
}

function point(event) {
  const canvas = sketch();
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
}

function stroke(from, to) {
  const context = sketch().getContext("2d");
  context.strokeStyle = $("#draft-color").value;
  context.lineWidth = 8;
  context.lineCap = "round";
  context.beginPath();
  context.moveTo(...from);
  context.lineTo(...to);
  context.stroke();
}

// The request for the sketch as it is now (without the picture, which is the sketch itself).
function requestBody() {
  const canvas = sketch();
  return {
    prompt: $("#draft-prompt").value.trim(), width: canvas.width, height: canvas.height,
    strength: Number($("#draft-strength").value), seed: 1,
  };
}

async function render() {
  const prompt = $("#draft-prompt").value.trim();
  if (!prompt) return;
  const canvas = sketch();
  const stamp = ++sent;
  const status = $("#draft-status");
  status.textContent = "Drawing…";
  try {
    const answer = await api.post("/generations-lcm", {
      ...requestBody(), imageDataUrl: canvas.toDataURL("image/png"), requestTimestamp: String(stamp),
    });
    const job = answer.lcmGenerationJob;
    const answered = Number(job.requestTimestamp);
    if (answered < shown) {
      dropped += 1;
      $("#draft-out").dataset.dropped = String(dropped);
      return;
    }
    shown = answered;
    const out = $("#draft-out");
    out.src = job.imageDataUrl[0];
    out.dataset.timestamp = String(answered);
    status.textContent = answered === sent ? `Up to date (${job.apiCreditCost} credit${job.apiCreditCost === 1 ? "" : "s"})` : "Drawing…";
  } catch (error) {
    status.textContent = `Failed: ${error.message}`;
  }
}

const scheduled = debounce(render, 200);

// Refine or upscale the picture on screen (the chosen draft): one more realtime request.
// The request without its picture, or null (and why, shown) when there is no draft yet.
function finishBody() {
  const out = $("#draft-out");
  if (!out.dataset.timestamp) {
    $("#draft-status").textContent = "Draw something and write a prompt first.";
    return null;
  }
  return {
    prompt: $("#draft-prompt").value.trim() || "a picture", width: out.naturalWidth, height: out.naturalHeight,
    strength: 0.5, seed: 1,
  };
}

async function finish(op, label) {
  const body = finishBody();
  if (!body) return;
  const status = $("#draft-status");
  status.textContent = `${label}…`;
  try {
    const answer = await api.post(op.path, { imageDataUrl: $("#draft-out").src, ...body });
    const final = $("#draft-final");
    final.src = answer.lcmGenerationJob.imageDataUrl[0];
    final.dataset.operation = op.path.slice(1);
    final.hidden = false;
    status.textContent = `${label}: done`;
  } catch (error) {
    status.textContent = `${label} failed: ${error.message}`;
  }
}

// Get API Code for refine or upscale: the draft on screen goes beside the code as draft.png.
function finishCode(op) {
  const body = finishBody();
  if (!body) return;
  const out = $("#draft-out");
  const canvas = document.createElement("canvas");
  [canvas.width, canvas.height] = [out.naturalWidth, out.naturalHeight];
  canvas.getContext("2d").drawImage(out, 0, 0);
  canvas.toBlob((blob) => showCode(realtimeSnippets(body, op, "draft.png"), [{ name: "draft.png", blob }]), "image/png");
}

export function setUpDraft() {
  clear();
  const canvas = sketch();
  canvas.addEventListener("pointerdown", (event) => {
    drawing = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!drawing) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  for (const name of ["pointerup", "pointercancel"]) {
    canvas.addEventListener(name, () => {
      if (drawing) scheduled();
      drawing = false;
    });
  }
  $("#draft-prompt").addEventListener("input", scheduled);
  $("#draft-strength").addEventListener("input", scheduled);
  $("#draft-clear").addEventListener("click", () => { clear(); scheduled(); });
  $("#draft-code").addEventListener("click", () => {
    sketch().toBlob((blob) => showCode(realtimeSnippets(requestBody()), [{ name: "sketch.png", blob }]), "image/png");
  });
  $("#draft-refine").addEventListener("click", () => finish(OPERATIONS.refine, "Refine"));
  $("#draft-upscale").addEventListener("click", () => finish(OPERATIONS.lcmUpscale, "Upscale"));
  $("#draft-refine-code").addEventListener("click", () => finishCode(OPERATIONS.refine));
  $("#draft-upscale-code").addEventListener("click", () => finishCode(OPERATIONS.lcmUpscale));
}
