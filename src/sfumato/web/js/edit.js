// Edit: a picture (uploaded, or from the gallery), a mask painted over it (white =
// may change), and a canvas request (INPAINT, or IMG2IMG with or without a mask): the
// picture and mask go up through the presigned uploads, then one POST /generations with
// canvasRequest, like any client.
import { api, uploadPresigned } from "./api.js";
import { inpaintSnippets } from "./apicode.js";
import { showCode } from "./codedialog.js";
import { follow } from "./generate.js";
import { state } from "./state.js";
import { $, numberOrNull, showError } from "./ui.js";

const PAINT = "rgba(214, 40, 120, 1)";
let painting = false;
let last = null;

const imageCanvas = () => $("#edit-image");
const maskCanvas = () => $("#edit-mask");

function setSize(width, height) {
  for (const canvas of [imageCanvas(), maskCanvas()]) {
    canvas.width = width;
    canvas.height = height;
  }
  $("#mask-stage").style.aspectRatio = `${width} / ${height}`;
}

async function drawPicture(blob) {
  const bitmap = await createImageBitmap(blob);
  setSize(bitmap.width, bitmap.height);
  imageCanvas().getContext("2d").drawImage(bitmap, 0, 0);
  bitmap.close();
}

export async function editPicture(url, generation) {
  location.hash = "#edit";
  const response = await fetch(url);
  await drawPicture(await response.blob());
  if (generation) {
    $("#edit-prompt").value = generation.prompt || "";
    if (generation.seed !== null && generation.seed !== undefined) $("#edit-seed").value = generation.seed;
  }
  $("#edit-status").textContent = `Picture loaded (${imageCanvas().width}×${imageCanvas().height}). Paint the area to repaint.`;
}

function point(event) {
  const canvas = maskCanvas();
  const box = canvas.getBoundingClientRect();
  return [(event.clientX - box.left) * (canvas.width / box.width), (event.clientY - box.top) * (canvas.height / box.height)];
}

function brushWidth() {
  const canvas = maskCanvas();
  const box = canvas.getBoundingClientRect();
  return Number($("#brush").value) * (canvas.width / (box.width || canvas.width));
}

function stroke(from, to) {
  const context = maskCanvas().getContext("2d");
  context.globalCompositeOperation = $("#erase").checked ? "destination-out" : "source-over";
  context.strokeStyle = PAINT;
  context.fillStyle = PAINT;
  context.lineWidth = brushWidth();
  context.lineCap = "round";
  context.lineJoin = "round";
  context.beginPath();
  context.moveTo(...from);
  context.lineTo(...to);
  context.stroke();
}

function invert() {
  const canvas = maskCanvas();
  const context = canvas.getContext("2d");
  const pixels = context.getImageData(0, 0, canvas.width, canvas.height);
  for (let i = 0; i < pixels.data.length; i += 4) {
    const painted = pixels.data[i + 3] > 127;
    pixels.data.set(painted ? [0, 0, 0, 0] : [214, 40, 120, 255], i);
  }
  context.putImageData(pixels, 0, 0);
}

// The mask as the API takes it: white where painted, black elsewhere, same size as the picture.
function maskBlob() {
  const canvas = maskCanvas();
  const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
  let any = false;
  for (let i = 0; i < pixels.data.length; i += 4) {
    const value = pixels.data[i + 3] > 127 ? 255 : 0;
    any ||= value === 255;
    pixels.data.set([value, value, value, 255], i);
  }
  const out = document.createElement("canvas");
  out.width = canvas.width;
  out.height = canvas.height;
  out.getContext("2d").putImageData(pixels, 0, 0);
  return any ? new Promise((resolve) => out.toBlob(resolve, "image/png")) : Promise.resolve(null);
}

// What the request sends: the picture and the mask as PNG blobs (the mask null when nothing is
// painted). Outpainting sends the picture inside a transparent border and a mask that marks
// the border (plus anything painted) for repainting.
async function sources() {
  const picture = imageCanvas();
  const painted = await maskBlob();
  if ($("#edit-mode").value !== "OUTPAINT") {
    return { picture: await pictureBlob(), mask: painted, width: picture.width, height: picture.height };
  }
  const border = Math.max(8, Math.round((numberOrNull($("#edit-border")) ?? 16) / 8) * 8);
  const width = picture.width + 2 * border;
  const height = picture.height + 2 * border;
  const frame = Object.assign(document.createElement("canvas"), { width, height });
  frame.getContext("2d").drawImage(picture, border, border);
  const mask = Object.assign(document.createElement("canvas"), { width, height });
  const context = mask.getContext("2d");
  context.fillStyle = "#fff";
  context.fillRect(0, 0, width, height);
  context.fillStyle = "#000";
  context.fillRect(border, border, picture.width, picture.height);
  const blob = (canvas) => new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  if (painted) { // what was painted on the picture may change too
    const pixels = context.getImageData(border, border, picture.width, picture.height);
    const own = maskCanvas().getContext("2d").getImageData(0, 0, picture.width, picture.height);
    for (let i = 0; i < pixels.data.length; i += 4) {
      const value = own.data[i + 3] > 127 ? 255 : 0;
      pixels.data.set([value, value, value, 255], i);
    }
    context.putImageData(pixels, border, border);
  }
  return { picture: await blob(frame), mask: await blob(mask), width, height };
}

// The generation request without the uploads' ids (they exist once the files are uploaded).
function requestBody(size) {
  const body = {
    modelId: $("#edit-model").value, prompt: $("#edit-prompt").value.trim(), width: size.width,
    height: size.height, num_images: 1, canvasRequest: true, canvasRequestType: $("#edit-mode").value,
  };
  const seed = numberOrNull($("#edit-seed"));
  if (seed !== null) body.seed = seed;
  const strength = numberOrNull($("#edit-strength"));
  if (strength !== null) body.init_strength = strength;
  return body;
}

// The uploads a request needs: the picture and, when there is one, the mask; their ids.
async function upload({ picture, mask }) {
  if (mask) {
    const tickets = (await api.post("/canvas-init-image", { initExtension: "png", maskExtension: "png" })).uploadCanvasInitImage;
    await uploadPresigned(tickets.initUrl, tickets.initFields, picture, "init.png");
    await uploadPresigned(tickets.maskUrl, tickets.maskFields, mask, "mask.png");
    return { canvasInitId: tickets.initImageId, canvasMaskId: tickets.maskImageId };
  }
  const ticket = (await api.post("/init-image", { extension: "png" })).uploadInitImage;
  await uploadPresigned(ticket.url, ticket.fields, picture, "init.png");
  return { canvasInitId: ticket.id };
}

async function code() {
  const error = $("#edit-error");
  showError(error, null);
  const inputs = await sources();
  const body = requestBody(inputs);
  if (!inputs.mask && body.canvasRequestType === "INPAINT") return showError(error, "Paint the area to repaint first: the code uploads this mask.");
  const files = [{ name: "init.png", blob: inputs.picture }];
  if (inputs.mask) files.push({ name: "mask.png", blob: inputs.mask });
  showCode(inpaintSnippets(body, Boolean(inputs.mask)), files);
}

const pictureBlob = () => new Promise((resolve) => imageCanvas().toBlob(resolve, "image/png"));

async function inpaint(event) {
  event.preventDefault();
  const error = $("#edit-error");
  showError(error, null);
  const prompt = $("#edit-prompt").value.trim();
  const inputs = await sources();
  if (!prompt) return showError(error, "Write a prompt first.");
  if (!inputs.mask && $("#edit-mode").value === "INPAINT") {
    return showError(error, "Paint the area to repaint first (or invert the empty mask to repaint everything).");
  }
  const button = $("#inpaint");
  button.disabled = true;
  const status = $("#edit-status");
  status.dataset.state = "submitting"; // not the last edit's state while this one is sent
  status.textContent = "Sending…";
  try {
    const body = { ...requestBody(inputs), ...(await upload(inputs)) };
    const created = await api.post("/generations", body);
    const generation = await follow(created.sdGenerationJob.generationId, status);
    const image = generation.generated_images?.[0];
    if (image) {
      const result = $("#edit-result");
      result.src = image.url;
      result.hidden = false;
      result.dataset.generation = generation.id;
    }
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
}

let fillPicker = null;

// Inpainting models only inpaint; the other edits want an ordinary model of the family.
function pickModel() {
  const models = state.models.filter((m) => ["sd15", "sdxl"].includes(m.family));
  const inpainting = (m) => /inpaint/i.test(m.key || m.name);
  const wanted = $("#edit-mode").value !== "IMG2IMG";
  const preferred = models.find((m) => m.ready && inpainting(m) === wanted) || models.find((m) => m.ready);
  fillPicker($("#edit-model"), models, preferred?.id);
}

export function showEditModels(fill) {
  fillPicker = fill;
  pickModel();
}

export function setUpEdit() {
  const canvas = maskCanvas();
  canvas.addEventListener("pointerdown", (event) => {
    painting = true;
    canvas.setPointerCapture(event.pointerId);
    last = point(event);
    stroke(last, last);
  });
  canvas.addEventListener("pointermove", (event) => {
    if (!painting) return;
    const next = point(event);
    stroke(last, next);
    last = next;
  });
  for (const name of ["pointerup", "pointercancel"]) canvas.addEventListener(name, () => { painting = false; });
  $("#mask-invert").addEventListener("click", invert);
  $("#mask-clear").addEventListener("click", () => canvas.getContext("2d").clearRect(0, 0, canvas.width, canvas.height));
  $("#edit-file").addEventListener("change", async (event) => {
    const file = event.target.files?.[0];
    if (!file) return;
    await drawPicture(file);
    $("#edit-status").textContent = `Picture loaded (${imageCanvas().width}×${imageCanvas().height}). Paint the area to repaint.`;
  });
  $("#edit-form").addEventListener("submit", inpaint);
  $("#edit-code").addEventListener("click", code);
  $("#edit-mode").addEventListener("change", () => {
    $("#edit-border-field").hidden = $("#edit-mode").value !== "OUTPAINT";
    if (fillPicker) pickModel();
  });
}
