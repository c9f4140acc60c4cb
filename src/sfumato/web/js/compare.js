// Compare: the ticked pictures side by side with their parameters; a row whose values
// differ is highlighted (and says so in words, not only in colour).
import { modelById, state } from "./state.js";
import { $, el } from "./ui.js";

const ROWS = [
  ["Prompt", (g) => g.prompt],
  ["Negative prompt", (g) => g.negativePrompt || "—"],
  ["Model", (g) => modelById(g.modelId)?.name || g.modelId],
  ["Size", (g) => `${g.imageWidth}×${g.imageHeight}`],
  ["Seed", (g, i) => g.imageSeeds?.[i] ?? g.seed],
  ["Steps", (g) => g.inferenceSteps],
  ["Guidance", (g) => g.guidanceScale],
  ["Scheduler", (g) => g.scheduler || "—"],
  ["Preset style", (g) => g.presetStyle || "NONE"],
];

export function renderCompare() {
  const chosen = [...state.chosen.values()];
  const table = $("#compare-table");
  $("#compare-hint").hidden = chosen.length >= 2;
  table.hidden = chosen.length < 2;
  if (chosen.length < 2) return;
  const head = el("tr", {}, el("td", {}, ""), chosen.map(({ image, generation, index }) =>
    el("th", { scope: "col" },
      el("img", { class: "compare-img", src: image.url, alt: `Picture ${index + 1} for “${generation.prompt}”` }))));
  const body = ROWS.map(([name, read]) => {
    const values = chosen.map(({ generation, index }) => String(read(generation, index) ?? "—"));
    const differs = new Set(values).size > 1;
    return el("tr", { "data-row": name, class: differs ? "differs-row" : null },
      el("th", { scope: "row" }, name, differs ? el("span", { class: "visually-hidden" }, " (differs)") : null),
      values.map((value) => el("td", { class: differs ? "differs" : null }, value)));
  });
  table.tHead.replaceChildren(head);
  table.tBodies[0].replaceChildren(...body);
}
