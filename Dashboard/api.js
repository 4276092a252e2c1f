// The REST client of the dashboard: the API key from sessionStorage (never a URL), problem+json
// errors turned into sentences, and a sign-in request on 401.
const KEY = "conveyor.apiKey";

export class APIError extends Error {
  constructor(status, detail, field) {
    super(detail);
    this.status = status;
    this.field = field;
  }
}

export const auth = {
  get key() { return sessionStorage.getItem(KEY); },
  set key(value) { value ? sessionStorage.setItem(KEY, value) : sessionStorage.removeItem(KEY); },
  onUnauthorized: () => {},
};

function headers(extra = {}) {
  const result = { ...extra };
  if (auth.key) result.Authorization = "Bearer " + auth.key;
  return result;
}

/** Words for a failed response: the problem's detail, else the status. */
async function failure(response) {
  let detail = `${response.status} ${response.statusText}`;
  let field;
  try {
    const body = await response.json();
    if (body.detail) detail = body.detail;
    field = body.field;
  } catch (_) { /* not JSON */ }
  if (response.status === 503) detail = "The server cannot reach Redis or MongoDB right now: " + detail;
  if (response.status === 403) detail = "Your API key may not do this: " + detail;
  if (response.status === 429) detail = "Too many requests: " + detail;
  return new APIError(response.status, detail, field);
}

/** Sends a request; resolves to the parsed JSON body, rejects with an APIError in words. */
export async function request(method, path, body) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }),
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
  } catch (error) {
    throw new APIError(0, "The server cannot be reached (" + error.message + ")");
  }
  if (response.status === 401) {
    auth.onUnauthorized();
    throw await failure(response);
  }
  if (!response.ok) throw await failure(response);
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

export const get = (path) => request("GET", path);
export const post = (path, body) => request("POST", path, body);
export const patch = (path, body) => request("PATCH", path, body);
export const del = (path) => request("DELETE", path);

/**
 * A query string from an object, leaving out empty values. Spaces are sent as %20, not the form
 * encoding's "+", which the server reads as a plus sign (an error-text search for "on purpose" would
 * otherwise look for "on+purpose"); a literal "+" is %2B either way.
 */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "") search.set(name, value);
  }
  const text = search.toString().replace(/\+/g, "%20");
  return text ? "?" + text : "";
}
