// Video: a clip from a prompt (POST /generations-text-to-video), or from a picture of the
// gallery as its first frame (POST /generations-image-to-video), followed like any
// generation and shown when done; "Get API Code" writes the same request for each client.
import { api } from "./api.js";
import { OPERATIONS, sdkSnippets } from "./apicode.js";
import { showCode } from "./codedialog.js";
import { refreshGallery } from "./gallery.js";
import { follow } from "./generate.js";
import { $, debounce, numberOrNull, showError } from "./ui.js";

let picture = null; // {id, url, prompt}: the first frame, or null for text to video

// The request exactly as it will be sent, empty fields left out.
function videoRequest() {
  const body = { prompt: $("#video-prompt").value.trim() };
  const negative = $("#video-negative").value.trim();
  if (negative) body.negativePrompt = negative;
  body.model = $("#video-model").value;
  for (const [name, selector] of [["duration", "#video-duration"], ["width", "#video-width"],
    ["height", "#video-height"], ["seed", "#video-seed"]]) {
    const value = numberOrNull($(selector));
    if (value !== null) body[name] = value;
  }
  if (picture) Object.assign(body, { imageId: picture.id, imageType: "GENERATED" });
  return body;
}

const operation = () => (picture ? OPERATIONS.imageToVideo : OPERATIONS.textToVideo);
const VEO3 = new Set(["VEO3", "VEO3FAST"]); // priced as Leonardo prices Veo 3

// The price before submitting, from the pricing calculator (the table the charge uses).
export const updateCost = debounce(async () => {
  const service = VEO3.has($("#video-model").value) ? "VEO3_MOTION_VIDEO_GENERATION" : "MOTION_VIDEO_GENERATION";
  try {
    const quote = await api.post("/pricing-calculator", { service, serviceParams: { [service]: {} } });
    $("#video-cost").textContent = `Cost: ${quote.calculateProductionApiServiceCost.cost} credits`;
  } catch (error) {
    $("#video-cost").textContent = `Cost unknown: ${error.message}`;
  }
}, 250);

function showSource() {
  const image = $("#video-picture");
  image.hidden = !picture;
  $("#video-drop-picture").hidden = !picture;
  if (picture) {
    image.src = picture.url;
    image.alt = `First frame: the picture for “${picture.prompt}”`;
    $("#video-source").textContent = "This picture, set in motion (image to video).";
  } else {
    image.removeAttribute("src");
    $("#video-source").textContent = "Text only. Choose “Make a video” on a picture in the gallery to start from it.";
  }
}

// From the gallery: this picture as the first frame, its prompt as a start.
export function videoFromPicture(image, generation) {
  picture = { id: image.id, url: image.url, prompt: generation.prompt || "" };
  if (!$("#video-prompt").value.trim()) $("#video-prompt").value = generation.prompt || "";
  showSource();
  location.hash = "#video";
  $("#video-prompt").focus();
}

async function submit(event) {
  event.preventDefault();
  const error = $("#video-error");
  showError(error, null);
  const body = videoRequest();
  if (!body.prompt) {
    showError(error, "Write a prompt first.");
    $("#video-prompt").focus();
    return;
  }
  const button = $("#video-submit");
  button.disabled = true;
  try {
    const created = await api.post(operation().path, body);
    const id = created.motionVideoGenerationJob.generationId;
    const status = $("#video-status");
    status.dataset.generation = id;
    const generation = await follow(id, status);
    const clip = generation.generated_images?.[0]?.motionMP4URL;
    if (clip) {
      const out = $("#video-out");
      out.src = clip;
      out.poster = generation.generated_images[0].url;
      out.dataset.generation = id;
      out.hidden = false;
      $("#video-empty").hidden = true;
    }
    await refreshGallery();
  } catch (failure) {
    showError(error, failure);
  } finally {
    button.disabled = false;
  }
}

export function setUpVideo() {
  $("#video-form").addEventListener("submit", submit);
  $("#video-model").addEventListener("change", updateCost);
  $("#video-code").addEventListener("click", () => showCode(sdkSnippets(operation(), videoRequest())));
  $("#video-drop-picture").addEventListener("click", () => {
    picture = null;
    showSource();
  });
}
