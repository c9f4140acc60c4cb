// The "Get API Code" dialog: one tab per client, a copy button for the shown one.
import { $, el } from "./ui.js";

let current = [];
let shown = 0;
let fileUrls = [];

function select(index, focus = false) {
  shown = index;
  const tabs = [...$("#code-tabs").children];
  tabs.forEach((tab, i) => {
    tab.setAttribute("aria-selected", String(i === index));
    tab.tabIndex = i === index ? 0 : -1;
    $(`#${tab.getAttribute("aria-controls")}`).hidden = i !== index;
  });
  if (focus) tabs[index].focus();
}

// `snippets`: [{id, label, code}]; `files`: [{name, blob}] the code reads, offered for download.
export function showCode(snippets, files = []) {
  current = snippets;
  for (const url of fileUrls) URL.revokeObjectURL(url);
  fileUrls = files.map((file) => URL.createObjectURL(file.blob));
  $("#code-files").replaceChildren(...files.map((file, i) =>
    el("li", {}, el("a", { href: fileUrls[i], download: file.name }, `Download ${file.name}`))));
  $("#code-files-note").hidden = files.length === 0;
  const tabs = $("#code-tabs");
  const panels = $("#code-panels");
  tabs.replaceChildren(
    ...current.map((snippet, i) =>
      el("button", {
        type: "button", role: "tab", id: `code-tab-${snippet.id}`, "aria-controls": `code-panel-${snippet.id}`,
        onclick: () => select(i),
        onkeydown: (event) => {
          const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
          if (step) select((i + step + current.length) % current.length, true);
        },
      }, snippet.label),
    ),
  );
  panels.replaceChildren(
    ...current.map((snippet) =>
      el("div", { role: "tabpanel", id: `code-panel-${snippet.id}`, "aria-labelledby": `code-tab-${snippet.id}`, tabindex: "0" },
        el("pre", {}, el("code", { "data-language": snippet.id, text: snippet.code }))),
    ),
  );
  $("#code-status").textContent = "";
  select(0);
  $("#code-dialog").showModal();
}

async function copy() {
  const text = current[shown].code;
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    const area = el("textarea", { "aria-hidden": "true" });
    area.value = text;
    document.body.append(area);
    area.select();
    document.execCommand("copy");
    area.remove();
  }
  $("#code-status").textContent = `${current[shown].label} code copied to the clipboard.`;
}

export function setUpCodeDialog() {
  $("#code-copy").addEventListener("click", copy);
}
