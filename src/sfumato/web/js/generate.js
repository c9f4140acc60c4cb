// The generate form: model, prompt, style, size, seed and sampling settings; the price
// before submitting; the job's queue position and progress while it runs.
import { api, wait } from "./api.js";
import { generationSnippets } from "./apicode.js";
import { showCode } from "./codedialog.js";
import { refreshGallery } from "./gallery.js";
import { modelById, state } from "./state.js";
import { $, debounce, el, numberOrNull, showError } from "./ui.js";

const STYLES = ["NONE", "ANIME", "BOKEH", "CINEMATIC", "CINEMATIC_CLOSEUP", "CREATIVE", "DYNAMIC", "ENVIRONMENT",
  "FASHION", "FILM", "FOOD", "GENERAL", "HDR", "ILLUSTRATION", "LEONARDO", "LONG_EXPOSURE", "MACRO", "MINIMALISTIC",
  "MONOCHROME", "MOODY", "NEUTRAL", "PHOTOGRAPHY", "PORTRAIT", "RAYTRACED", "RENDER_3D", "RETRO", "SKETCH_BW",
  "SKETCH_COLOR", "STOCK_PHOTO", "VIBRANT", "UNPROCESSED"];
const SCHEDULERS = ["EULER_DISCRETE", "EULER_ANCESTRAL_DISCRETE", "DDIM", "DPM_SOLVER", "PNDM", "KLMS", "LEONARDO"];
const RATIOS = [["1:1", 1, 1], ["4:3", 4, 3], ["3:4", 3, 4], ["16:9", 16, 9], ["9:16", 9, 16], ["3:2", 3, 2], ["2:3", 2, 3]];
const FAMILIES_WITHOUT_IMAGES = new Set(["esrgan", "segmenter", "safety", "svd", "wan", "ltx-video"]);

const label = (name) => name.toLowerCase().replaceAll("_", " ").replace(/^./, (c) => c.toUpperCase());
const round8 = (value) => Math.max(32, Math.min(1536, Math.round(value / 8) * 8));

export function imageModels() {
  return state.models.filter((model) => !FAMILIES_WITHOUT_IMAGES.has(model.family));
}

export function fillModelPicker(select, models, preferred) {
  select.replaceChildren(
    ...models.map((model) =>
      el("option", { value: model.id, "data-key": model.key || "" },
        `${model.name} — ${model.ready ? "ready" : "weights missing"}`)),
  );
  const pick = models.find((m) => m.key === preferred || m.id === preferred) || models.find((m) => m.ready) || models[0];
  if (pick) select.value = pick.id;
}

function selectedModel() {
  return modelById($("#model").value);
}

// The request body exactly as it will be sent (Leonardo's wire names), empty fields left out.
export function readBody() {
  const body = { modelId: $("#model").value, prompt: $("#prompt").value.trim() };
  const negative = $("#negative").value.trim();
  if (negative) body.negative_prompt = negative;
  const numbers = [["width", "#width"], ["height", "#height"], ["num_images", "#num-images"],
    ["num_inference_steps", "#steps"], ["guidance_scale", "#guidance"]];
  for (const [name, selector] of numbers) {
    const value = numberOrNull($(selector));
    if (value !== null) body[name] = value;
  }
  if ($("#seed-lock").checked && numberOrNull($("#seed")) !== null) body.seed = numberOrNull($("#seed"));
  if ($("#scheduler").value) body.scheduler = $("#scheduler").value;
  if ($("#style").value && $("#style").value !== "NONE") body.presetStyle = $("#style").value;
  return body;
}

function applyRatio(w, h) {
  const model = selectedModel();
  const base = Math.sqrt((model?.modelWidth || 512) * (model?.modelHeight || 512));
  $("#width").value = round8(base * Math.sqrt(w / h));
  $("#height").value = round8(base * Math.sqrt(h / w));
  markRatio();
  updateCost();
}

function markRatio() {
  const w = Number($("#width").value), h = Number($("#height").value);
  for (const button of $("#ratios").children) {
    const [, rw, rh] = RATIOS.find(([name]) => name === button.dataset.ratio);
    button.setAttribute("aria-pressed", String(Math.abs(w / h - rw / rh) < 0.04));
  }
}

function modelChanged() {
  const model = selectedModel();
  if (!model) return;
  $("#model-note").textContent = model.ready
    ? `${model.description || model.family} (${model.modelWidth}×${model.modelHeight} by default)`
    : `Weights missing: ${model.howToObtain || "see the models page"}`;
  $("#width").value = model.modelWidth || 512;
  $("#height").value = model.modelHeight || 512;
  markRatio();
  updateCost();
}

const updateCost = debounce(async () => {
  const body = readBody();
  const cost = $("#cost");
  try {
    const quote = await api.post("/pricing-calculator", {
      service: "IMAGE_GENERATION",
      serviceParams: {
        IMAGE_GENERATION: {
          modelId: body.modelId, imageWidth: body.width, imageHeight: body.height,
          numImages: body.num_images, inferenceSteps: body.num_inference_steps,
        },
      },
    });
    const amount = quote.calculateProductionApiServiceCost?.cost;
    cost.textContent = `Cost: ${amount} credit${amount === 1 ? "" : "s"}`;
  } catch (error) {
    cost.textContent = `Cost unknown: ${error.message}`;
  }
}, 250);

function describe(generation) {
  if (generation.status === "COMPLETE") {
    const what = generation.motionMP4URL ? "clip" : "picture";
    return ["complete", `Complete: ${generation.generated_images.length} ${what}(s).`];
  }
  if (generation.status === "FAILED") return ["failed", `Failed: ${generation.failureReason || "no reason given"}`];
  if (generation.progress) {
    const { step, total, stage } = generation.progress;
    if (total && step >= total) return ["running", "Finalizing…"];
    return ["running", `Generating (${stage || "denoising"} step ${step} of ${total})`];
  }
  if (generation.queuePosition) return ["queued", `Queued, position ${generation.queuePosition}`];
  return ["queued", "Queued"];
}

export async function follow(generationId, statusNode) {
  statusNode.dataset.state = "queued";
  statusNode.textContent = "Queued";
  for (;;) {
    const generation = (await api.get(`/generations/${generationId}`)).generations_by_pk;
    const [phase, text] = describe(generation);
    statusNode.dataset.state = phase;
    statusNode.textContent = text;
    if (generation.status !== "PENDING") return generation;
    await wait(400);
  }
}

async function submit(event) {
  event.preventDefault();
  const error = $("#generate-error");
  showError(error, null);
  const body = readBody();
  if (!body.prompt) {
    showError(error, "Write a prompt first.");
    $("#prompt").focus();
    return;
  }
  const button = $("#generate-submit");
  button.disabled = true;
  try {
    const created = await api.post("/generations", body);
    const id = created.sdGenerationJob.generationId;
    await refreshGallery();
    const generation = await follow(id, $("#job-status"));
    if (generation.imageSeeds?.length && !$("#seed-lock").checked) $("#seed").value = generation.imageSeeds[0];
    await refreshGallery();
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
}

async function improve() {
  const prompt = $("#prompt").value.trim();
  const error = $("#generate-error");
  showError(error, null);
  if (!prompt) {
    showError(error, "Write a prompt to improve first.");
    return;
  }
  const button = $("#improve");
  button.disabled = true;
  try {
    const answer = await api.post("/prompt/improve", { prompt });
    $("#prompt").value = answer.promptGeneration.prompt;
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
}

// Load a past request into the form (re-run with one change).
export function loadIntoForm(generation) {
  $("#model").value = generation.modelId;
  modelChanged();
  $("#prompt").value = generation.prompt || "";
  $("#negative").value = generation.negativePrompt || "";
  $("#width").value = generation.imageWidth;
  $("#height").value = generation.imageHeight;
  $("#steps").value = generation.inferenceSteps ?? "";
  $("#guidance").value = generation.guidanceScale ?? "";
  $("#num-images").value = generation.generated_images?.length || 1;
  $("#scheduler").value = generation.scheduler || "";
  $("#style").value = generation.presetStyle || "NONE";
  $("#seed").value = generation.seed ?? "";
  $("#seed-lock").checked = generation.seed !== null && generation.seed !== undefined;
  markRatio();
  updateCost();
  location.hash = "#generate";
  $("#prompt").focus();
}

export function setUpGenerate() {
  $("#style").replaceChildren(...STYLES.map((s) => el("option", { value: s }, label(s))));
  $("#scheduler").append(...SCHEDULERS.map((s) => el("option", { value: s }, label(s))));
  $("#ratios").replaceChildren(
    ...RATIOS.map(([name, w, h]) =>
      el("button", { type: "button", "data-ratio": name, "aria-pressed": "false", onclick: () => applyRatio(w, h) }, name)),
  );
  $("#model").addEventListener("change", modelChanged);
  $("#template").addEventListener("change", (event) => {
    const template = event.target.value;
    if (!template) return;
    const subject = $("#prompt").value.trim() || "a red fox";
    $("#prompt").value = template.replace("{subject}", subject);
    event.target.value = "";
  });
  for (const selector of ["#width", "#height"]) $(selector).addEventListener("input", markRatio);
  $("#generate-form").addEventListener("input", updateCost);
  $("#generate-form").addEventListener("submit", submit);
  $("#improve").addEventListener("click", improve);
  $("#get-code").addEventListener("click", () => showCode(generationSnippets(readBody(), selectedModel()?.key)));
}

export function showModels(preferred) {
  fillModelPicker($("#model"), imageModels(), preferred);
  const model = selectedModel();
  if (model) {
    modelChanged();
    if (!$("#steps").value) $("#steps").value = "";
  }
}
