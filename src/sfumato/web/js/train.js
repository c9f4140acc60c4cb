// Train: a dataset (pictures uploaded, or ticked in the gallery), then a custom model
// trained on it, with its queue position, step and loss while it runs and the prompt suite
// it draws when done. The same routes as any client: /datasets, /models.
import { api, uploadPresigned, wait } from "./api.js";
import { OPERATIONS, datasetSnippets, sdkSnippets } from "./apicode.js";
import { showCode } from "./codedialog.js";
import { state } from "./state.js";
import { $, debounce, el, numberOrNull, showError } from "./ui.js";

let datasetId = null;
let datasetName = null;
// What went into the dataset from this page, for its Get API Code: gallery picture ids, and
// picture files ({name, extension, blob}).
let added = { imageIds: [], files: [] };
const versions = new Set(); // custom model ids ticked for comparing

async function showDataset() {
  const dataset = (await api.get(`/datasets/${datasetId}`)).datasets_by_pk;
  const images = dataset.dataset_images || [];
  $("#dataset-images").replaceChildren(...images.map((image, i) =>
    el("li", { class: "picture" }, el("img", { src: image.url, alt: `Dataset picture ${i + 1}`, loading: "lazy" }))));
  $("#dataset-status").textContent = `Dataset “${dataset.name}”: ${images.length} picture${images.length === 1 ? "" : "s"}.`;
  updateCost(images.length);
}

async function createDataset() {
  const name = $("#dataset-name").value.trim() || "studio dataset";
  const status = $("#dataset-status");
  try {
    datasetId = (await api.post(OPERATIONS.dataset.path, { name })).insert_datasets_one.id;
    datasetName = name;
    added = { imageIds: [], files: [] };
    $("#dataset-tools").hidden = false;
    await showDataset();
  } catch (error) {
    status.textContent = `Could not create the dataset: ${error.message}`;
  }
}

async function addFiles(event) {
  const files = [...(event.target.files || [])];
  try {
    for (const file of files) {
      const extension = (file.type.split("/")[1] || "png").replace("jpeg", "jpg");
      const ticket = (await api.post(`/datasets/${datasetId}/upload`, { extension })).uploadDatasetImage;
      await uploadPresigned(ticket.url, ticket.fields, file, file.name);
      added.files.push({ name: `picture-${added.files.length + 1}.${extension}`, extension, blob: file });
    }
    await showDataset();
  } catch (error) {
    $("#dataset-status").textContent = `Upload failed: ${error.message}`;
  }
  event.target.value = "";
}

async function addChosen() {
  const chosen = [...state.chosen.values()];
  if (!chosen.length) {
    $("#dataset-status").textContent = "Tick pictures in the gallery first (their Compare boxes).";
    return;
  }
  try {
    for (const { image } of chosen) {
      await api.post(`/datasets/${datasetId}/upload/gen`, { generatedImageId: image.id });
      added.imageIds.push(image.id);
    }
    await showDataset();
  } catch (error) {
    $("#dataset-status").textContent = `Could not add them: ${error.message}`;
  }
}

const updateCost = debounce(async (count) => {
  try {
    const quote = await api.post("/pricing-calculator", {
      service: "MODEL_TRAINING",
      serviceParams: { MODEL_TRAINING: { resolution: numberOrNull($("#train-resolution")) ?? 512, datasetImageCount: count } },
    });
    $("#train-cost").textContent = `Cost: ${quote.calculateProductionApiServiceCost.cost} credits`;
  } catch (error) {
    $("#train-cost").textContent = `Cost unknown: ${error.message}`;
  }
}, 250);

function describe(model) {
  if (model.status === "COMPLETE") return ["complete", "Trained."];
  if (model.status === "FAILED") return ["failed", `Failed: ${model.failureReason || "no reason given"}`];
  const progress = model.progress;
  if (progress) {
    const loss = progress.loss === undefined ? "" : `, loss ${Number(progress.loss).toFixed(4)}`;
    return ["running", `Training (${progress.stage || "training"} step ${progress.step} of ${progress.total}${loss})`];
  }
  return ["queued", model.queuePosition ? `Queued, position ${model.queuePosition}` : "Queued"];
}

// The training request as the form would send it, or null (and why, shown) when it is not ready.
function trainingRequest() {
  const body = {
    name: $("#train-name").value.trim(), datasetId, instance_prompt: $("#train-prompt").value.trim(),
    resolution: numberOrNull($("#train-resolution")) ?? 512, sd_version: $("#train-base").value,
  };
  let problem = null;
  if (!datasetId) problem = "Create a dataset and add pictures first.";
  else if (!body.name || !body.instance_prompt) problem = "Name the model and give its instance prompt.";
  showError($("#train-error"), problem);
  return problem ? null : body;
}

function datasetCode() {
  showCode(datasetSnippets(datasetName, added.imageIds, added.files), added.files);
}

function code() {
  const body = trainingRequest();
  if (body) showCode(sdkSnippets(OPERATIONS.training, body));
}

async function train(event) {
  event.preventDefault();
  const error = $("#train-error");
  const body = trainingRequest();
  if (!body) return;
  const button = $("#train-submit");
  button.disabled = true;
  const status = $("#train-status");
  const losses = $("#train-losses");
  losses.replaceChildren();
  $("#train-evaluation").replaceChildren();
  try {
    const id = (await api.post(OPERATIONS.training.path, body)).sdTrainingJob.customModelId;
    status.dataset.model = id;
    let lastStep = -1;
    for (;;) {
      const model = (await api.get(`/models/${id}`)).custom_models_by_pk;
      const [phase, text] = describe(model);
      status.dataset.state = phase;
      status.textContent = text;
      const progress = model.progress;
      if (progress && progress.loss !== undefined && progress.step !== lastStep) {
        lastStep = progress.step;
        losses.append(el("li", { "data-step": progress.step }, `step ${progress.step}: ${Number(progress.loss).toFixed(4)}`));
      }
      if (model.status !== "PENDING") {
        // The whole curve, as the run recorded it (the polls above may have seen only part of it).
        const curve = model.lineage?.losses || [];
        if (curve.length) {
          losses.replaceChildren(...curve.map((loss, i) =>
            el("li", { "data-step": i + 1 }, `step ${i + 1}: ${Number(loss).toFixed(4)}`)));
        }
        // The suite's prompts are recorded as templates ({instance}: the instance prompt).
        const said = (prompt) => prompt.replaceAll("{instance}", model.instancePrompt);
        $("#train-evaluation").replaceChildren(...(model.evaluation || []).map((image) =>
          el("li", { class: "picture" },
            el("img", { src: image.url, alt: `“${said(image.prompt)}”, seed ${image.seed}` }),
            el("span", { class: "note" }, said(image.prompt)))));
        break;
      }
      await wait(400);
    }
    await listModels();
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
}

export async function listModels() {
  if (!state.user) return;
  const models = (await api.get(`/models/user/${state.user.id}`)).custom_models || [];
  $("#models-list").replaceChildren(...(models.length ? models.map((model) =>
    el("li", { class: "card", "data-model": model.id },
      el("p", { class: "prompt" }, model.name),
      el("p", { class: "meta" }, `${model.status.toLowerCase()} · “${model.instancePrompt}” · ${model.modelWidth} px`),
      el("span", { class: "field check" },
        el("input", {
          type: "checkbox", id: `version-${model.id}`, checked: versions.has(model.id),
          onchange: (event) => {
            if (event.target.checked) versions.add(model.id);
            else versions.delete(model.id);
            compareVersions();
          },
        }),
        el("label", { for: `version-${model.id}` }, "Compare", el("span", { class: "visually-hidden" }, ` ${model.name}`))))) : [
    el("li", { class: "note" }, "No custom models yet."),
  ]));
}

// Two or more trained versions side by side: what they were trained with, how their loss
// ended, and the prompt suite each drew (the same prompts and seed, so pictures compare).
async function compareVersions() {
  const table = $("#versions");
  if (versions.size < 2) {
    table.hidden = true;
    return;
  }
  const models = await Promise.all([...versions].map(async (id) => (await api.get(`/models/${id}`)).custom_models_by_pk));
  const last = (model) => model.lineage?.losses?.at(-1);
  const rows = [
    ["Instance prompt", (m) => m.instancePrompt],
    ["Resolution", (m) => `${m.modelWidth} px`],
    ["Base model", (m) => m.baseModelKey || m.sdVersion || "—"],
    ["Training steps", (m) => m.lineage?.losses?.length ?? "—"],
    ["Final loss", (m) => (last(m) === undefined ? "—" : Number(last(m)).toFixed(4))],
    ["Dataset", (m) => m.trainingSettings?.dataset_id || m.lineage?.dataset_id || "—"],
  ];
  const body = rows.map(([name, read]) => {
    const values = models.map((m) => String(read(m) ?? "—"));
    const differs = new Set(values).size > 1;
    return el("tr", { "data-row": name, class: differs ? "differs-row" : null },
      el("th", { scope: "row" }, name, differs ? el("span", { class: "visually-hidden" }, " (differs)") : null),
      values.map((value) => el("td", { class: differs ? "differs" : null }, value)));
  });
  const prompts = [...new Set(models.flatMap((m) => (m.evaluation || []).map((image) => image.prompt)))];
  for (const prompt of prompts) {
    body.push(el("tr", { "data-suite": prompt },
      el("th", { scope: "row" }, `Suite: ${prompt}`),
      models.map((m) => {
        const image = (m.evaluation || []).find((e) => e.prompt === prompt);
        const said = prompt.replaceAll("{instance}", m.instancePrompt);
        return el("td", {}, image ? el("img", { class: "compare-img", src: image.url, alt: `${m.name}: “${said}”` }) : "—");
      })));
  }
  table.tHead.replaceChildren(el("tr", {}, el("td", {}, ""), models.map((m) => el("th", { scope: "col" }, m.name))));
  table.tBodies[0].replaceChildren(...body);
  table.hidden = false;
}

export function setUpTrain() {
  $("#dataset-create").addEventListener("click", createDataset);
  $("#dataset-files").addEventListener("change", addFiles);
  $("#dataset-add-chosen").addEventListener("click", addChosen);
  $("#train-resolution").addEventListener("input", () => updateCost($("#dataset-images").children.length));
  $("#train-form").addEventListener("submit", train);
  $("#train-code").addEventListener("click", code);
  $("#dataset-code").addEventListener("click", datasetCode);
}
