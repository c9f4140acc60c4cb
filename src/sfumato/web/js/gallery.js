// The gallery: the caller's generations, newest first, a page at a time; each picture can
// be downloaded, deleted, edited, compared, and its lineage read.
import { api, wait } from "./api.js";
import { OPERATIONS, sdkSnippets } from "./apicode.js";
import { showCode } from "./codedialog.js";
import { editPicture } from "./edit.js";
import { follow, loadIntoForm } from "./generate.js";
import { changed, state } from "./state.js";
import { $, el } from "./ui.js";
import { videoFromPicture } from "./video.js";

const PAGE = 6;
let offset = 0;

function lineage(generation) {
  const recorded = {
    model: generation.modelId, seeds: generation.imageSeeds, scheduler: generation.scheduler,
    steps: generation.inferenceSteps, guidance: generation.guidanceScale, ...(generation.lineage || {}),
  };
  return el("details", {},
    el("summary", {}, "Lineage"),
    el("pre", { text: JSON.stringify(recorded, null, 2) }));
}

// Jobs on an existing picture (POST /variations/...), their handle's key in the answer.
const TRANSFORMS = [["upscale", "sdUpscaleJob", "Upscale"], ["nobg", "sdNobgJob", "Remove background"],
  ["unzoom", "sdUnzoomJob", "Unzoom"]];
const ANIMATE = { imageId: null, motionStrength: 5 }; // the SVD request, less its picture

// "Get API Code" for an action on a picture: the same request, as the button sends it.
const codeButton = (operation, body, label, alt) => el("button", {
  type: "button", class: "quiet", "data-code": label.toLowerCase().replaceAll(" ", "-"),
  "aria-label": `Get API Code: ${label}, ${alt}`, onclick: () => showCode(sdkSnippets(operation, body)),
}, "API code");

async function transform(image, route, key, label, status) {
  status.textContent = `${label}: queued`;
  try {
    const created = await api.post(OPERATIONS[route].path, { id: image.id });
    const id = created[key].id;
    for (;;) {
      const variation = (await api.get(`/variations/${id}`)).generated_image_variation_generic[0];
      if (variation.status === "COMPLETE") break;
      if (variation.status === "FAILED") throw new Error(variation.failureReason || "failed");
      status.textContent = variation.progress ? `${label}: running` : `${label}: queued`;
      await wait(400);
    }
    await refreshGallery();
  } catch (error) {
    status.textContent = `${label} failed: ${error.message}`;
  }
}

// Image to video (SVD): a new generation whose picture is the clip's poster.
async function animate(image, status) {
  status.textContent = "Animate: queued";
  try {
    const created = await api.post(OPERATIONS.svd.path, { ...ANIMATE, imageId: image.id });
    const id = created.motionSvdGenerationJob.generationId;
    await refreshGallery();
    await follow(id, status);
    await refreshGallery();
  } catch (error) {
    status.textContent = `Animate failed: ${error.message}`;
  }
}

function variations(image) {
  const done = image.generated_image_variation_generics || [];
  if (!done.length) return null;
  return el("ul", { class: "variations", "aria-label": "Variations" },
    done.map((v) => el("li", { "data-transform": v.transformType },
      v.url ? el("a", { href: v.url, target: "_blank", rel: "noopener" }, `${v.transformType.toLowerCase()} (${v.status.toLowerCase()})`)
        : `${v.transformType.toLowerCase()} (${v.status.toLowerCase()})`)));
}

function picture(generation, image, index) {
  const name = `sfumato-${generation.id.slice(0, 8)}-${index + 1}.png`;
  const chosen = state.chosen.has(image.id);
  const alt = `Picture ${index + 1} for “${generation.prompt}”`;
  const media = image.motionMP4URL
    ? el("video", { src: image.motionMP4URL, poster: image.url, controls: true, loop: true, muted: true, playsinline: true,
      width: generation.imageWidth, height: generation.imageHeight, "aria-label": `Clip ${index + 1} for “${generation.prompt}”` })
    : el("img", { src: image.url, alt, width: generation.imageWidth, height: generation.imageHeight, loading: "lazy" });
  return el("li", { class: "picture" },
    media,
    el("span", { class: "tools" },
      el("a", { href: image.url, download: name, "aria-label": `Download ${alt}` }, "Download"),
      image.motionMP4URL ? el("a", { href: image.motionMP4URL, download: name.replace(".png", ".mp4") }, "Download MP4") : null,
      el("button", { type: "button", onclick: () => editPicture(image.url, generation), "aria-label": `Edit ${alt}` }, "Edit"),
    ),
    el("details", { class: "more" },
      el("summary", { "aria-label": `More for ${alt}` }, "More"),
      el("span", { class: "tools" },
        TRANSFORMS.map(([route, key, label]) => el("span", { class: "pair" },
          el("button", {
            type: "button", "data-transform": route, "aria-label": `${label}: ${alt}`,
            onclick: (event) => transform(image, route, key, label, event.target.closest(".picture").querySelector(".job")),
          }, label),
          codeButton(OPERATIONS[route], { id: image.id }, label, alt))),
        image.motionMP4URL ? null : el("span", { class: "pair" },
          el("button", {
            type: "button", "data-transform": "animate", "aria-label": `Animate: ${alt}`,
            onclick: (event) => animate(image, event.target.closest(".picture").querySelector(".job")),
          }, "Animate"),
          codeButton(OPERATIONS.svd, { ...ANIMATE, imageId: image.id }, "Animate", alt)),
        image.motionMP4URL ? null : el("button", {
          type: "button", "data-transform": "video", "aria-label": `Make a video: ${alt}`,
          onclick: () => videoFromPicture(image, generation),
        }, "Make a video"))),
    el("span", { class: "job note", role: "status" }),
    variations(image),
    el("span", { class: "field check" },
      el("input", {
        type: "checkbox", id: `cmp-${image.id}`, checked: chosen,
        onchange: (event) => {
          if (event.target.checked) state.chosen.set(image.id, { image, generation, index });
          else state.chosen.delete(image.id);
          changed();
        },
      }),
      el("label", { for: `cmp-${image.id}` }, "Compare", el("span", { class: "visually-hidden" }, ` ${alt}`)),
    ),
  );
}

function card(generation) {
  const images = generation.generated_images || [];
  const size = `${generation.imageWidth}×${generation.imageHeight}`;
  const status = generation.status === "COMPLETE" ? "" : ` · ${generation.status.toLowerCase()}`;
  return el("li", { class: "card", "data-generation": generation.id },
    el("p", { class: "prompt" }, generation.prompt),
    el("p", { class: "meta" }, `${size} · seed ${generation.seed ?? "random"} · ${generation.inferenceSteps ?? "?"} steps${status}`),
    images.length ? el("ul", { class: "pictures", role: "list" }, images.map((image, i) => picture(generation, image, i))) : null,
    generation.failureReason ? el("p", { class: "error" }, generation.failureReason) : null,
    lineage(generation),
    el("div", { class: "actions" },
      el("button", { type: "button", onclick: () => loadIntoForm(generation) }, "Re-run with changes"),
      el("button", { type: "button", class: "danger", onclick: () => remove(generation) }, "Delete"),
    ),
  );
}

async function remove(generation) {
  if (!confirm(`Delete the generation “${generation.prompt}” and its pictures?`)) return;
  await api.del(`/generations/${generation.id}`);
  for (const image of generation.generated_images || []) state.chosen.delete(image.id);
  changed();
  await refreshGallery();
}

export async function refreshGallery() {
  if (!state.user) return;
  const list = await api.get(`/generations/user/${state.user.id}?offset=${offset}&limit=${PAGE}`);
  const generations = list.generations || [];
  if (!generations.length && offset > 0) {
    offset = Math.max(0, offset - PAGE);
    return refreshGallery();
  }
  $("#gallery").replaceChildren(...generations.map(card));
  if (!generations.length) $("#gallery").append(el("li", { class: "note" }, "No generations yet."));
  $("#page-prev").disabled = offset === 0;
  $("#page-next").disabled = generations.length < PAGE;
  $("#page-label").textContent = `Page ${offset / PAGE + 1}`;
}

export function setUpGallery() {
  $("#page-prev").addEventListener("click", () => { offset = Math.max(0, offset - PAGE); refreshGallery(); });
  $("#page-next").addEventListener("click", () => { offset += PAGE; refreshGallery(); });
}
