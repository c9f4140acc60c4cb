// "Get API Code": the exact request a form would send, written for each client.
// Pure functions from a Leonardo request body (wire names) to source text; the dialog
// below shows them with a copy button. Strings go through JSON.stringify, whose output
// is a valid string literal in Python and TypeScript alike.

const lit = (value) => JSON.stringify(value);

// The SDKs name a wire field in their own case (Python snake_case, TypeScript camelCase).
const snake = (name) => name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
const camel = (name) => name.replace(/_([a-z0-9])/g, (_, c) => c.toUpperCase());

// Each SDK call a form can stand for: its route, the Python and TypeScript methods, the
// request class, the answer's id, and the fields the SDKs type as enums (module.Name, and
// the values the SDK's enum holds where the server takes more).
const GENERATION_ENUMS = {
  scheduler: "shared.SdGenerationSchedulers", presetStyle: "shared.SdGenerationStyle",
  canvasRequestType: "shared.CanvasRequestType",
};
const I2V = "CreateImageToVideoGeneration";
const T2V = "CreateTextToVideoGeneration";
export const OPERATIONS = {
  generation: { path: "/generations", call: "image.createGeneration", request: "CreateGenerationRequestBody",
    answer: "sdGenerationJob.generationId", enums: GENERATION_ENUMS },
  upscale: { path: "/variations/upscale", call: "variation.createVariationUpscale",
    request: "CreateVariationUpscaleRequestBody", answer: "sdUpscaleJob.id" },
  nobg: { path: "/variations/nobg", call: "variation.createVariationNoBG", python: "variation.create_variation_no_bg",
    request: "CreateVariationNoBGRequestBody", answer: "sdNobgJob.id" },
  unzoom: { path: "/variations/unzoom", call: "variation.createVariationUnzoom",
    request: "CreateVariationUnzoomRequestBody", answer: "sdUnzoomJob.id" },
  svd: { path: "/generations-motion-svd", call: "motion.createSVDMotionGeneration",
    python: "motion.create_svd_motion_generation", request: "CreateSVDMotionGenerationRequestBody",
    answer: "motionSvdGenerationJob.generationId" },
  textToVideo: { path: "/generations-text-to-video", call: "motion.createTextToVideoGeneration",
    request: `${T2V}RequestBody`, answer: "motionVideoGenerationJob.generationId",
    enums: { model: `operations.${T2V}String`, resolution: `operations.${T2V}MotionString` } },
  imageToVideo: { path: "/generations-image-to-video", call: "motion.createImageToVideoGeneration",
    request: `${I2V}RequestBody`, answer: "motionVideoGenerationJob.generationId",
    enums: { model: `operations.${I2V}String`, resolution: `operations.${I2V}MotionString`, imageType: "operations.ImageType" } },
  training: { path: "/models", call: "models.createModel", request: "CreateModelRequestBody",
    answer: "sdTrainingJob.customModelId", enums: { sd_version: "operations.CreateModelSdVersions" },
    sdkValues: { sd_version: ["v1_5", "v2"] } },
  // sfumato's own routes, which the SDKs do not have: curl alone.
  apiKey: { path: "/me/api-keys" },
  dataset: { path: "/datasets", call: "dataset.createDataset", request: "CreateDatasetRequestBody",
    answer: "insertDatasetsOne.id" },
  // The realtime canvas: a picture in (as a data URL), a picture out, in the answer itself.
  lcm: { path: "/generations-lcm", call: "realtimeCanvas.createLCMGeneration",
    python: "realtime_canvas.create_lcm_generation", request: "CreateLCMGenerationRequestBody" },
  refine: { path: "/lcm-instant-refine", call: "realtimeCanvas.performInstantRefine",
    request: "PerformInstantRefineRequestBody" },
  lcmUpscale: { path: "/lcm-upscale", call: "realtimeCanvas.performAlchemyUpscaleLCM",
    python: "realtime_canvas.perform_alchemy_upscale_lcm", request: "PerformAlchemyUpscaleLCMRequestBody" },
};

const pythonCall = (op) => op.python || op.call.split(".").map(snake).join(".");
const present = (body) => Object.entries(body).filter(([, value]) => value !== null && value !== undefined);

function pythonValue(value, enumName) {
  if (enumName) return `${enumName}(${lit(value)})`;
  if (typeof value === "boolean") return value ? "True" : "False";
  return lit(value);
}

function pythonArgs(body, op = OPERATIONS.generation, indent = "        ") {
  return present(body).map(([name, value]) => `${indent}${snake(name)}=${pythonValue(value, op.enums?.[name])},`);
}

const PYTHON_CLIENT = `sdk = LeonardoAiSDK(
    bearer_auth=os.environ["SFUMATO_API_KEY"],
    server_url=os.environ.get("SFUMATO_URL", "http://127.0.0.1:8000") + "/api/rest/v1",
)`;

export function pythonSdk(body, op = OPERATIONS.generation) {
  return `import os

from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations, shared

${PYTHON_CLIENT}
created = sdk.${pythonCall(op)}(
    request=operations.${op.request}(
${pythonArgs(body, op).join("\n")}
    )
)
print(created.object.${op.answer.split(".").map(snake).join(".")})
`;
}

function typescriptProps(body, used, op = OPERATIONS.generation) {
  return present(body).map(([name, value]) => {
    const enumName = op.enums?.[name];
    if (enumName) used.add(enumName);
    return `  ${camel(name)}: ${lit(value)}${enumName ? ` as ${enumName.split(".")[1]}` : ""},`;
  });
}

function typescriptHead(used, extra = "") {
  const imports = ["shared", "operations"].map((module) => {
    const names = [...used].filter((name) => name.startsWith(`${module}.`)).map((name) => name.split(".")[1]).sort();
    return names.length ? `import type { ${names.join(", ")} } from "@leonardo-ai/sdk/sdk/models/${module}/index.js";\n` : "";
  }).join("");
  return `${extra}import { Leonardo } from "@leonardo-ai/sdk";
${imports}
const leonardo = new Leonardo({
  bearerAuth: process.env.SFUMATO_API_KEY,
  serverURL: \`\${process.env.SFUMATO_URL ?? "http://127.0.0.1:8000"}/api/rest/v1\`,
});
`;
}

export function typescriptSdk(body, op = OPERATIONS.generation) {
  const used = new Set();
  const props = typescriptProps(body, used, op);
  return `${typescriptHead(used)}const result = await leonardo.${op.call}({
${props.join("\n")}
});
console.log(result.object?.${op.answer.replaceAll(".", "?.")});
`;
}

// Python SDK, TypeScript SDK and curl for one request; curl alone where a value is one the
// server takes but the SDKs' enums do not (they would refuse it before sending), or where
// the SDKs do not have the route.
export function sdkSnippets(op, body) {
  const sdkRefuses = !op.call || Object.entries(op.sdkValues || {}).some(([name, values]) =>
    body[name] !== undefined && body[name] !== null && !values.includes(body[name]));
  const list = sdkRefuses ? [] : [
    { id: "python", label: "Python SDK", code: pythonSdk(body, op) },
    { id: "typescript", label: "TypeScript SDK", code: typescriptSdk(body, op) },
  ];
  list.push({ id: "curl", label: "curl", code: curl(body, op.path) });
  return list;
}

const shellQuote = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

export function curl(body, path = "/generations") {
  return `curl -sS "$SFUMATO_URL/api/rest/v1${path}" \\
  -H "authorization: Bearer $SFUMATO_API_KEY" \\
  -H "content-type: application/json" \\
  -d ${shellQuote(JSON.stringify(body, null, 2))}
`;
}

// Several requests in one shell script (curl and jq): the server's address and key, and
// `upload URL FIELDS FILE`, which posts a file through a presigned form (FIELDS: its JSON).
// A refused request stops the script with the server's answer (--fail-with-body).
const CURL_SCRIPT = `set -euo pipefail
api="$SFUMATO_URL/api/rest/v1"
auth="authorization: Bearer $SFUMATO_API_KEY"
json="content-type: application/json"
upload() {
  local fields=()
  while IFS= read -r field; do fields+=(--form-string "$field"); done \\
    < <(jq -r 'to_entries[] | "\\(.key)=\\(.value)"' <<<"$2")
  curl -sS -f "$1" "\${fields[@]}" -F "file=@$3" > /dev/null
}
`;

// A generation whose pictures the script uploaded first (`uploads`: the steps that leave the
// upload ticket in $ticket; `ids`: the jq object naming them in the request).
const generationScript = (uploads, ids, request) => `${CURL_SCRIPT}
${uploads}
body=$(jq -c --argjson t "$ticket" '. + ${ids}' \\
  <<<${shellQuote(JSON.stringify(request))})
curl -sS --fail-with-body "$api/generations" -H "$auth" -H "$json" -d "$body"
`;

const tabs = (python, typescript, curlCode) => [
  { id: "python", label: "Python SDK", code: python },
  { id: "typescript", label: "TypeScript SDK", code: typescript },
  { id: "curl", label: "curl", code: curlCode },
];

// The OpenAI Images surface (/v1) takes a model, a prompt, n and a size, with sfumato's
// seed, negative prompt, steps and guidance through extra_body; nothing else.
export function openaiSdk(body, modelKey) {
  const blocked = ["scheduler", "presetStyle", "canvasRequest", "init_image_id", "init_generation_image_id"]
    .filter((name) => body[name] !== undefined && body[name] !== null && body[name] !== "NONE");
  if (blocked.length) return null;
  const extra = {};
  if (body.seed !== undefined) extra.seed = body.seed;
  if (body.negative_prompt) extra.negative_prompt = body.negative_prompt;
  if (body.num_inference_steps !== undefined) extra.steps = body.num_inference_steps;
  if (body.guidance_scale !== undefined) extra.guidance = body.guidance_scale;
  const lines = [
    `    model=${lit(modelKey || body.modelId)},`,
    `    prompt=${lit(body.prompt)},`,
    `    n=${body.num_images ?? 1},`,
  ];
  if (body.width && body.height) lines.push(`    size=${lit(`${body.width}x${body.height}`)},`);
  if (Object.keys(extra).length) lines.push(`    extra_body=${pythonDict(extra)},`);
  return `import os

from openai import OpenAI

client = OpenAI(
    base_url=os.environ.get("SFUMATO_URL", "http://127.0.0.1:8000") + "/v1",
    api_key=os.environ["SFUMATO_API_KEY"],
)
result = client.images.generate(
${lines.join("\n")}
)
print(result.data[0].url)
`;
}

function pythonDict(values) {
  return `{${Object.entries(values).map(([k, v]) => `${lit(k)}: ${pythonValue(v, null)}`).join(", ")}}`;
}

export function generationSnippets(body, modelKey) {
  const list = sdkSnippets(OPERATIONS.generation, body);
  const openai = openaiSdk(body, modelKey);
  if (openai) list.push({ id: "openai", label: "OpenAI SDK", code: openai });
  return list;
}

// A canvas edit: the picture (and its mask, when there is one) go up through presigned
// forms (files init.png and mask.png, offered beside the code), then the generation names them.
export function inpaintSnippets(body, withMask = true) {
  if (!withMask) return pictureOnlySnippets(body);
  const request = { ...body };
  delete request.canvasInitId;
  delete request.canvasMaskId;
  const python = `import json
import os

import httpx
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations, shared

${PYTHON_CLIENT}
# The picture and its mask (white = repaint): init.png and mask.png beside this script.
tickets = sdk.init_images.upload_canvas_init_image(
    request=operations.UploadCanvasInitImageRequestBody(init_extension="png", mask_extension="png")
).object.upload_canvas_init_image
for url, fields, path in ((tickets.init_url, tickets.init_fields, "init.png"),
                          (tickets.mask_url, tickets.mask_fields, "mask.png")):
    with open(path, "rb") as file:
        httpx.post(url, data=json.loads(fields), files={"file": file}).raise_for_status()
created = sdk.image.create_generation(
    request=operations.CreateGenerationRequestBody(
${pythonArgs(request).join("\n")}
        canvas_init_id=tickets.init_image_id,
        canvas_mask_id=tickets.mask_image_id,
    )
)
print(created.object.sd_generation_job.generation_id)
`;
  const used = new Set();
  const props = typescriptProps(request, used);
  const typescript = `${typescriptHead(used, 'import { readFile } from "node:fs/promises";\n')}
// The picture and its mask (white = repaint): init.png and mask.png beside this script.
const tickets = (await leonardo.initImages.uploadCanvasInitImage({ initExtension: "png", maskExtension: "png" }))
  .object!.uploadCanvasInitImage!;
for (const [url, fields, path] of [[tickets.initUrl, tickets.initFields, "init.png"],
                                   [tickets.maskUrl, tickets.maskFields, "mask.png"]]) {
  const form = new FormData();
  for (const [name, value] of Object.entries(JSON.parse(fields!))) form.append(name, value as string);
  form.append("file", new Blob([await readFile(path!)], { type: "image/png" }), path!);
  const response = await fetch(url!, { method: "POST", body: form });
  if (!response.ok) throw new Error(\`upload refused: \${response.status}\`);
}
const result = await leonardo.image.createGeneration({
${props.join("\n")}
  canvasInitId: tickets.initImageId,
  canvasMaskId: tickets.maskImageId,
});
console.log(result.object?.sdGenerationJob?.generationId);
`;
  const curlCode = generationScript(`# The picture and its mask (white = repaint): init.png and mask.png beside this script.
ticket=$(curl -sS --fail-with-body "$api/canvas-init-image" -H "$auth" -H "$json" \\
  -d '{"initExtension": "png", "maskExtension": "png"}' | jq -c .uploadCanvasInitImage)
upload "$(jq -r .initUrl <<<"$ticket")" "$(jq -r .initFields <<<"$ticket")" init.png
upload "$(jq -r .maskUrl <<<"$ticket")" "$(jq -r .maskFields <<<"$ticket")" mask.png`,
  "{canvasInitId: $t.initImageId, canvasMaskId: $t.maskImageId}", request);
  return tabs(python, typescript, curlCode);
}

// The realtime canvas: the picture it starts from (`input`, offered beside the code) as a
// data URL, and the picture it answers written to picture.png.
export function realtimeSnippets(body, op = OPERATIONS.lcm, input = "sketch.png") {
  const request = { ...body };
  delete request.imageDataUrl;
  const python = `import base64
import os

from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations

${PYTHON_CLIENT}
with open(${lit(input)}, "rb") as file:
    picture = "data:image/png;base64," + base64.b64encode(file.read()).decode()
answer = sdk.${pythonCall(op)}(
    request=operations.${op.request}(
        image_data_url=picture,
${pythonArgs(request, {}).join("\n")}
    )
)
with open("picture.png", "wb") as file:
    file.write(base64.b64decode(answer.object.lcm_generation_job.image_data_url[0].split(",", 1)[1]))
`;
  const tsProps = typescriptProps(request, new Set(), {});
  const typescript = `${typescriptHead(new Set(), 'import { readFile, writeFile } from "node:fs/promises";\n')}
const input = "data:image/png;base64," + (await readFile(${lit(input)})).toString("base64");
const answer = await leonardo.${op.call}({
  imageDataUrl: input,
${tsProps.join("\n")}
});
const picture = answer.object!.lcmGenerationJob!.imageDataUrl![0];
await writeFile("picture.png", Buffer.from(picture.split(",", 2)[1], "base64"));
`;
  // The picture is read by the shell where the JSON names it; the rest is quoted as it is.
  const json = shellQuote(JSON.stringify({ imageDataUrl: "PICTURE", ...request }, null, 2));
  const data = json.replace('"PICTURE"', `"data:image/png;base64,'"$(base64 -w0 ${input})"'"`);
  const curlCode = `curl -sS "$SFUMATO_URL/api/rest/v1${op.path}" \\
  -H "authorization: Bearer $SFUMATO_API_KEY" \\
  -H "content-type: application/json" \\
  -d ${data}
`;
  return tabs(python, typescript, curlCode);
}

function pictureOnlySnippets(body) {
  const request = { ...body };
  delete request.canvasInitId;
  const python = `import json
import os

import httpx
from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations, shared

${PYTHON_CLIENT}
# The picture: init.png beside this script.
ticket = sdk.init_images.upload_init_image(
    request=operations.UploadInitImageRequestBody(extension="png")
).object.upload_init_image
with open("init.png", "rb") as file:
    httpx.post(ticket.url, data=json.loads(ticket.fields), files={"file": file}).raise_for_status()
created = sdk.image.create_generation(
    request=operations.CreateGenerationRequestBody(
${pythonArgs(request).join("\n")}
        canvas_init_id=ticket.id,
    )
)
print(created.object.sd_generation_job.generation_id)
`;
  const used = new Set();
  const props = typescriptProps(request, used);
  const typescript = `${typescriptHead(used, 'import { readFile } from "node:fs/promises";\n')}
// The picture: init.png beside this script.
const ticket = (await leonardo.initImages.uploadInitImage({ extension: "png" })).object!.uploadInitImage!;
const form = new FormData();
for (const [name, value] of Object.entries(JSON.parse(ticket.fields!))) form.append(name, value as string);
form.append("file", new Blob([await readFile("init.png")], { type: "image/png" }), "init.png");
const uploaded = await fetch(ticket.url!, { method: "POST", body: form });
if (!uploaded.ok) throw new Error(\`upload refused: \${uploaded.status}\`);
const result = await leonardo.image.createGeneration({
${props.join("\n")}
  canvasInitId: ticket.id,
});
console.log(result.object?.sdGenerationJob?.generationId);
`;
  const curlCode = generationScript(`# The picture: init.png beside this script.
ticket=$(curl -sS --fail-with-body "$api/init-image" -H "$auth" -H "$json" -d '{"extension": "png"}' \\
  | jq -c .uploadInitImage)
upload "$(jq -r .url <<<"$ticket")" "$(jq -r .fields <<<"$ticket")" init.png`, "{canvasInitId: $t.id}", request);
  return tabs(python, typescript, curlCode);
}

// A dataset as the train screen built it: created by name, then the gallery's pictures added
// by id, then each picture file (offered beside the code) through its presigned form.
export function datasetSnippets(name, imageIds, files) {
  const op = OPERATIONS.dataset;
  const pyFromGen = imageIds.length ? `
# Pictures of your generations, by id.
for image_id in ${lit(imageIds)}:
    sdk.dataset.upload_dataset_image_from_gen(
        dataset_id=dataset_id,
        request_body=operations.UploadDatasetImageFromGenRequestBody(generated_image_id=image_id),
    )` : "";
  const pyFiles = files.length ? `
# Picture files beside this script, each through a presigned form.
for path, extension in ${lit(files.map((file) => [file.name, file.extension]))}:
    ticket = sdk.dataset.upload_dataset_image(
        dataset_id=dataset_id,
        request_body=operations.UploadDatasetImageRequestBody(extension=extension),
    ).object.upload_dataset_image
    with open(path, "rb") as file:
        httpx.post(ticket.url, data=json.loads(ticket.fields), files={"file": file}).raise_for_status()` : "";
  const python = `${files.length ? "import json\n" : ""}import os

${files.length ? "import httpx\n" : ""}from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations

${PYTHON_CLIENT}
created = sdk.${pythonCall(op)}(request=operations.${op.request}(name=${lit(name)}))
dataset_id = created.object.insert_datasets_one.id${pyFromGen}${pyFiles}
print(dataset_id)
`;
  const tsFromGen = imageIds.length ? `
// Pictures of your generations, by id.
for (const generatedImageId of ${lit(imageIds)}) {
  await leonardo.dataset.uploadDatasetImageFromGen({ generatedImageId }, datasetId);
}` : "";
  const tsFiles = files.length ? `
// Picture files beside this script, each through a presigned form.
for (const [path, extension] of ${lit(files.map((file) => [file.name, file.extension]))} as [string, string][]) {
  const ticket = (await leonardo.dataset.uploadDatasetImage({ extension }, datasetId)).object!.uploadDatasetImage!;
  const form = new FormData();
  for (const [name, value] of Object.entries(JSON.parse(ticket.fields!))) form.append(name, value as string);
  form.append("file", new Blob([await readFile(path)]), path);
  const uploaded = await fetch(ticket.url!, { method: "POST", body: form });
  if (!uploaded.ok) throw new Error(\`upload refused: \${uploaded.status}\`);
}` : "";
  const curlFromGen = imageIds.length ? `
# Pictures of your generations, by id.
for image_id in ${imageIds.map(shellQuote).join(" ")}; do
  curl -sS --fail-with-body "$api/datasets/$dataset_id/upload/gen" -H "$auth" -H "$json" \\
    -d "{\\"generatedImageId\\": \\"$image_id\\"}" > /dev/null
done` : "";
  const curlFiles = files.length ? `
# Picture files beside this script, each through a presigned form.
for file in ${files.map((file) => shellQuote(file.name)).join(" ")}; do
  ticket=$(curl -sS --fail-with-body "$api/datasets/$dataset_id/upload" -H "$auth" -H "$json" \\
    -d "{\\"extension\\": \\"\${file##*.}\\"}" | jq -c .uploadDatasetImage)
  upload "$(jq -r .url <<<"$ticket")" "$(jq -r .fields <<<"$ticket")" "$file"
done` : "";
  const curlCode = `${CURL_SCRIPT}
dataset_id=$(curl -sS --fail-with-body "$api${op.path}" -H "$auth" -H "$json" -d ${shellQuote(JSON.stringify({ name }))} \\
  | jq -r .insert_datasets_one.id)${curlFromGen}${curlFiles}
echo "$dataset_id"
`;
  const typescript = `${typescriptHead(new Set(), files.length ? 'import { readFile } from "node:fs/promises";\n' : "")}
const created = await leonardo.${op.call}({ name: ${lit(name)} });
const datasetId = created.object!.insertDatasetsOne!.id!;${tsFromGen}${tsFiles}
console.log(datasetId);
`;
  return tabs(python, typescript, curlCode);
}
