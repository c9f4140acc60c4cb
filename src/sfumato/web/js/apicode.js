// "Get API Code": the exact request a form would send, written for each client.
// Pure functions from a Leonardo request body (wire names) to source text; the dialog
// below shows them with a copy button. Strings go through JSON.stringify, whose output
// is a valid string literal in Python and TypeScript alike.

const lit = (value) => JSON.stringify(value);

// Leonardo wire name -> [Python SDK keyword, TypeScript SDK property, SDK enum or null]
const FIELDS = {
  modelId: ["model_id", "modelId", null],
  prompt: ["prompt", "prompt", null],
  negative_prompt: ["negative_prompt", "negativePrompt", null],
  width: ["width", "width", null],
  height: ["height", "height", null],
  num_images: ["num_images", "numImages", null],
  num_inference_steps: ["num_inference_steps", "numInferenceSteps", null],
  guidance_scale: ["guidance_scale", "guidanceScale", null],
  seed: ["seed", "seed", null],
  scheduler: ["scheduler", "scheduler", "SdGenerationSchedulers"],
  presetStyle: ["preset_style", "presetStyle", "SdGenerationStyle"],
  init_image_id: ["init_image_id", "initImageId", null],
  init_generation_image_id: ["init_generation_image_id", "initGenerationImageId", null],
  init_strength: ["init_strength", "initStrength", null],
  canvasRequest: ["canvas_request", "canvasRequest", null],
  canvasRequestType: ["canvas_request_type", "canvasRequestType", "CanvasRequestType"],
  canvasInitId: ["canvas_init_id", "canvasInitId", null],
  canvasMaskId: ["canvas_mask_id", "canvasMaskId", null],
};

function entries(body) {
  return Object.entries(body).filter(([name, value]) => value !== null && value !== undefined && FIELDS[name]);
}

function pythonValue(value, enumName) {
  if (enumName) return `shared.${enumName}(${lit(value)})`;
  if (typeof value === "boolean") return value ? "True" : "False";
  return lit(value);
}

export function pythonSdk(body) {
  const args = entries(body)
    .map(([name, value]) => `        ${FIELDS[name][0]}=${pythonValue(value, FIELDS[name][2])},`)
    .join("\n");
  return `import os

from leonardo_ai_sdk import LeonardoAiSDK
from leonardo_ai_sdk.models import operations, shared

sdk = LeonardoAiSDK(
    bearer_auth=os.environ["SFUMATO_API_KEY"],
    server_url=os.environ.get("SFUMATO_URL", "http://127.0.0.1:8000") + "/api/rest/v1",
)
created = sdk.image.create_generation(
    request=operations.CreateGenerationRequestBody(
${args}
    )
)
print(created.object.sd_generation_job.generation_id)
`;
}

export function typescriptSdk(body) {
  const used = new Set();
  const props = entries(body)
    .map(([name, value]) => {
      const [, prop, enumName] = FIELDS[name];
      if (enumName) used.add(enumName);
      return `  ${prop}: ${lit(value)}${enumName ? ` as ${enumName}` : ""},`;
    })
    .join("\n");
  const types = used.size
    ? `import type { ${[...used].sort().join(", ")} } from "@leonardo-ai/sdk/sdk/models/shared";\n`
    : "";
  return `import { Leonardo } from "@leonardo-ai/sdk";
${types}
const leonardo = new Leonardo({
  bearerAuth: process.env.SFUMATO_API_KEY,
  serverURL: \`\${process.env.SFUMATO_URL ?? "http://127.0.0.1:8000"}/api/rest/v1\`,
});
const result = await leonardo.image.createGeneration({
${props}
});
console.log(result.object?.sdGenerationJob?.generationId);
`;
}

const shellQuote = (text) => `'${text.replaceAll("'", `'\\''`)}'`;

export function curl(body, path = "/generations") {
  return `curl -sS "$SFUMATO_URL/api/rest/v1${path}" \\
  -H "authorization: Bearer $SFUMATO_API_KEY" \\
  -H "content-type: application/json" \\
  -d ${shellQuote(JSON.stringify(body, null, 2))}
`;
}

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

export function snippets(body, modelKey) {
  const list = [
    { id: "python", label: "Python SDK", code: pythonSdk(body) },
    { id: "typescript", label: "TypeScript SDK", code: typescriptSdk(body) },
    { id: "curl", label: "curl", code: curl(body) },
  ];
  const openai = openaiSdk(body, modelKey);
  if (openai) list.push({ id: "openai", label: "OpenAI SDK", code: openai });
  return list;
}
