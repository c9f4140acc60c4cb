// The studio's entry point: resume or ask for a sign-in, then route between screens by the
// URL's hash (#generate, #draft, #edit, #video, #compare, #train, #account).
import { resumeSession, signIn, signOut, api } from "./api.js";
import { renderAccount, setUpAccount } from "./account.js";
import { setUpCodeDialog } from "./codedialog.js";
import { renderCompare } from "./compare.js";
import { setUpDraft } from "./draft.js";
import { setUpEdit, showEditModels } from "./edit.js";
import { refreshGallery, setUpGallery } from "./gallery.js";
import { fillModelPicker, setUpGenerate, showModels } from "./generate.js";
import { state } from "./state.js";
import { listModels, setUpTrain } from "./train.js";
import { $, showError } from "./ui.js";
import { setUpVideo, updateCost as updateVideoCost } from "./video.js";

const VIEWS = ["generate", "draft", "edit", "video", "compare", "train", "account"];

function show(name) {
  for (const view of document.querySelectorAll(".view")) view.hidden = view.id !== `view-${name}`;
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.view === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${name[0].toUpperCase()}${name.slice(1)} · sfumato studio`;
}

function route() {
  if (!state.user) return show("signin");
  const name = VIEWS.includes(location.hash.slice(1)) ? location.hash.slice(1) : "generate";
  show(name);
  if (name === "generate") refreshGallery().catch((error) => console.error(error)); // other clients' work too
  if (name === "compare") renderCompare();
  if (name === "train") listModels().catch((error) => console.error(error));
  if (name === "video") updateVideoCost();
  if (name === "account") renderAccount().catch((error) => console.error(error));
}

async function enter(session) {
  state.user = session.user;
  $("#who-name").textContent = session.user.username;
  $("#who").hidden = false;
  $("#nav").hidden = false;
  state.models = (await api.get("/platformModels")).custom_models || [];
  showModels();
  showEditModels(fillModelPicker);
  await refreshGallery();
  route();
  document.body.dataset.ready = "true";
}

function leave() {
  state.user = null;
  state.chosen.clear();
  $("#who").hidden = true;
  $("#nav").hidden = true;
  $("#gallery").replaceChildren();
  route();
  $("#api-key").focus();
}

async function submitSignIn(event) {
  event.preventDefault();
  const input = $("#api-key");
  const error = $("#signin-error");
  showError(error, null);
  const key = input.value.trim();
  input.value = ""; // the key leaves the page as soon as it is sent
  if (!key) {
    showError(error, "Paste an API key.");
    input.focus();
    return;
  }
  try {
    await enter(await signIn(key));
    $("#main").focus();
  } catch (failure) {
    showError(error, failure.status === 401 ? "That key is not valid (or was revoked)." : failure);
    input.focus();
  }
}

async function boot() {
  setUpGenerate();
  setUpGallery();
  setUpEdit();
  setUpDraft();
  setUpCodeDialog();
  setUpTrain();
  setUpVideo();
  setUpAccount();
  state.listeners.add(() => { if (location.hash === "#compare") renderCompare(); });
  $("#signin-form").addEventListener("submit", submitSignIn);
  $("#sign-out").addEventListener("click", async () => { await signOut(); leave(); });
  window.addEventListener("hashchange", route);
  $("#booting").hidden = true;
  const session = await resumeSession();
  if (session) await enter(session);
  else {
    route();
    document.body.dataset.ready = "true";
  }
}

boot().catch((error) => {
  $("#booting").hidden = false;
  $("#booting").textContent = `The studio could not start: ${error.message}`;
});
