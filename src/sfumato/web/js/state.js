// What the screens share: who is signed in, the catalog, the pictures ticked for comparing.
export const state = {
  user: null, // {id, username}
  models: [], // /platformModels entries
  chosen: new Map(), // image id -> {image, generation}
  listeners: new Set(),
};

export function modelById(id) {
  return state.models.find((model) => model.id === id || model.key === id) || null;
}

export function changed() {
  for (const listener of state.listeners) listener();
}
