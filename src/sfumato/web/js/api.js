// The studio talks to the same public API as any client. It holds no API key: the
// server exchanged it for an HttpOnly session cookie, and every unsafe request carries
// the session's CSRF token in a header.
export const API = "/api/rest/v1";
const SESSION = "/studio/session";
let csrfToken = null;

export class ApiError extends Error {
  constructor(message, status, code) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function call(method, url, body) {
  const headers = { accept: "application/json" };
  if (body !== undefined) headers["content-type"] = "application/json";
  if (csrfToken && method !== "GET") headers["x-csrf-token"] = csrfToken;
  const response = await fetch(url, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const message = (data && (data.error?.message || data.error)) || `${response.status} ${response.statusText}`;
    throw new ApiError(String(message), response.status, data?.code || data?.error?.code);
  }
  return data;
}

export const api = {
  get: (path) => call("GET", API + path),
  post: (path, body = {}) => call("POST", API + path, body),
  put: (path, body = {}) => call("PUT", API + path, body),
  del: (path) => call("DELETE", API + path),
};

function remember(session) {
  csrfToken = session.csrfToken;
  return session;
}

export async function signIn(apiKey) {
  return remember(await call("POST", SESSION, { apiKey }));
}

export async function resumeSession() {
  try {
    return remember(await call("GET", SESSION));
  } catch (error) {
    if (error.status === 401) return null;
    throw error;
  }
}

export async function signOut() {
  await call("DELETE", SESSION);
  csrfToken = null;
}

// A presigned form upload (local server or bucket): the form's signed fields, then the file.
export async function uploadPresigned(url, fields, blob, filename) {
  const form = new FormData();
  const parsed = typeof fields === "string" ? JSON.parse(fields) : fields;
  for (const [name, value] of Object.entries(parsed)) form.append(name, value);
  form.append("file", blob, filename);
  const response = await fetch(url, { method: "POST", body: form });
  if (!response.ok) throw new ApiError(`Upload refused (${response.status}): ${await response.text()}`, response.status);
}

export const wait = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
