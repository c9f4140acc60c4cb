// The official TypeScript SDK's Media resource, unchanged, against a live sfumato:
// upload an image and a video through presigned forms, read them, use the image as an
// init image, delete. Prints what it saw as JSON; tests/e2e/test_sdk_typescript.py judges it.
// Any response the SDK's own schemas reject throws, and the script exits non-zero.
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { Leonardo } from "@leonardo-ai/sdk";

const { SFUMATO_URL, SFUMATO_KEY, IMAGE_FILE, VIDEO_FILE } = process.env;
const sdk = new Leonardo({ bearerAuth: SFUMATO_KEY, serverURL: `${SFUMATO_URL}/api/rest/v1` });
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

async function upload(extension, bytes, type) {
  const { object } = await sdk.media.uploadMedia({ extension });
  const { uploadId, url, fields } = object.uploadMedia;
  const form = new FormData();
  for (const [name, value] of Object.entries(JSON.parse(fields))) form.append(name, value);
  form.append("file", new Blob([bytes], { type }), `upload.${extension}`);
  const response = await fetch(url, { method: "POST", body: form });
  return { id: uploadId, uploadStatus: response.status };
}

async function read(id) {
  const media = (await sdk.media.getUploadedMediaById(id)).object.uploadedMediaByPk;
  const download = async (url) => (url ? sha256(Buffer.from(await (await fetch(url)).arrayBuffer())) : null);
  return { ...media, fileSha256: await download(media.url), thumbnailFound: (await download(media.thumbnailUrl)) !== null };
}

async function statusOf(call) {
  try {
    await call();
    return 200;
  } catch (error) {
    return error.statusCode ?? String(error);
  }
}

async function generateFrom(initImageId) {
  const job = (
    await sdk.image.createGeneration({
      prompt: "a red fox", modelId: "tiny-sd15", width: 64, height: 64, numImages: 1,
      numInferenceSteps: 10, seed: 7, initImageId, initStrength: 0.3,
    })
  ).object.sdGenerationJob;
  const deadline = Date.now() + 120_000;
  while (Date.now() < deadline) {
    const generation = (await sdk.image.getGenerationById(job.generationId)).object.generationsByPk;
    if (generation.status !== "PENDING") {
      return { status: generation.status, images: generation.generatedImages.length };
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`generation ${job.generationId} still PENDING`);
}

const imageBytes = await readFile(IMAGE_FILE);
const videoBytes = await readFile(VIDEO_FILE);
const image = await upload("png", imageBytes, "image/png");
const video = await upload("mp4", videoBytes, "video/mp4");
const refused = await upload("mp4", imageBytes, "video/mp4"); // a PNG is not an MP4

const report = {
  imageSha256: sha256(imageBytes),
  videoSha256: sha256(videoBytes),
  uploads: { image: image.uploadStatus, video: video.uploadStatus, refused: refused.uploadStatus },
  image: await read(image.id),
  video: await read(video.id),
  refused: await read(refused.id),
  generation: await generateFrom(image.id),
  deleted: (await sdk.media.deleteUploadedMediaById(video.id)).object.deleteUploadedMediaByPk,
  videoId: video.id,
  afterDelete: await statusOf(() => sdk.media.getUploadedMediaById(video.id)),
  unknown: await statusOf(() => sdk.media.getUploadedMediaById("00000000-0000-0000-0000-000000000000")),
};
console.log(JSON.stringify(report));
