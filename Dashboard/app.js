// The dashboard's shell: sign-in, navigation by URL hash (#/jobs, #/jobs/<id>, …), the connection
// indicator, and mounting one page at a time (each page returns a cleanup function).
import { auth, get } from "./api.js";
import { onConnectionState } from "./feed.js";
import { notify } from "./ui.js";
import { overview } from "./overview.js";
import { jobs, jobDetail } from "./jobs.js";
import { types } from "./types.js";
import { dead } from "./dead.js";
import { queues, workers, schedules } from "./cluster.js";
import { submit } from "./submit.js";

const pages = { overview, jobs, types, dead, queues, workers, schedules, submit };
const main = document.getElementById("main");
let cleanup = () => {};

function route() {
  const hash = location.hash.replace(/^#\/?/, "") || "overview";
  const [name, ...rest] = hash.split("?")[0].split("/");
  cleanup();
  main.replaceChildren();
  let page = pages[name];
  let argument;
  if (name === "jobs" && rest.length) {
    page = jobDetail;
    argument = decodeURIComponent(rest.join("/"));
  }
  if (!page) {
    main.textContent = "No such page: " + hash;
    cleanup = () => {};
    return;
  }
  for (const link of document.querySelectorAll("nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.getElementById("nav").classList.remove("open");
  cleanup = page(main, argument) || (() => {});
}

/** Opens the dashboard: straight away without auth, else after a key that the API accepts. */
async function start() {
  const dialog = document.getElementById("sign-in");
  const form = document.getElementById("sign-in-form");
  const message = document.getElementById("sign-in-error");
  auth.onUnauthorized = () => {
    auth.key = null;
    if (!dialog.open) dialog.showModal();
  };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = document.getElementById("api-key").value.trim();
    auth.key = key;
    try {
      await get("/v1/queues");
      dialog.close();
      message.textContent = "";
      document.getElementById("sign-out").hidden = false;
      route();
    } catch (error) {
      auth.key = null;
      message.textContent = error.status === 401 ? "This API key is not valid." : error.message;
      if (!dialog.open) dialog.showModal();
    }
  });
  document.getElementById("sign-out").addEventListener("click", () => {
    auth.key = null;
    location.reload();
  });
  document.getElementById("menu-toggle").addEventListener("click", (event) => {
    const nav = document.getElementById("nav");
    nav.classList.toggle("open");
    event.target.setAttribute("aria-expanded", nav.classList.contains("open"));
  });
  document.getElementById("jump").addEventListener("submit", (event) => {
    event.preventDefault();
    const id = document.getElementById("jump-id").value.trim();
    if (id) location.hash = "#/jobs/" + encodeURIComponent(id);
  });
  const indicator = document.getElementById("connection");
  onConnectionState((state) => {
    indicator.dataset.state = state;
    indicator.textContent = state === "live" ? "live" : state === "connecting" ? "connecting…" :
      state === "idle" ? "not live on this page" : "offline, retrying";
  });
  window.addEventListener("hashchange", () => {
    // Messages about the page left behind do not belong to the next one.
    document.getElementById("errors").replaceChildren();
    route();
  });
  try {
    await get("/v1/queues");
    if (auth.key) document.getElementById("sign-out").hidden = false;
    route();
  } catch (error) {
    if (error.status === 401) {
      dialog.showModal();
    } else {
      notify(error.message);
      route();
    }
  }
}

start();
