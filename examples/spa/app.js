// Lists and creates Patients on a FHIR server on another origin, with plain fetch().
//
// What makes this work is the server's CORS policy (Firehouse: --cors-origins
// and friends). Listing is a "simple" GET and needs no preflight; creating
// sends Content-Type: application/fhir+json, which is not a simple content
// type, so the browser first asks the server with an OPTIONS preflight
// (https://fetch.spec.whatwg.org/#http-cors-protocol). Reading Location and
// ETag from script works because Firehouse exposes them
// (Access-Control-Expose-Headers).
"use strict";

const FHIR_JSON = "application/fhir+json";
const PAGE_SIZE = 100;
const byId = (id) => document.getElementById(id);

let base = initialBase();
let nextPage = null;

function initialBase() {
  const fromQuery = new URLSearchParams(location.search).get("fhir");
  const chosen = fromQuery || localStorage.getItem("firehouse-example-base") || "http://127.0.0.1:8080";
  return chosen.replace(/\/+$/, "");
}

function say(text, kind = "info") {
  const status = byId("status");
  status.textContent = text;
  status.dataset.kind = kind;
}

// fetch() with FHIR JSON, turning failures into sentences a person can act on.
async function fhir(url, init = {}) {
  let response;
  try {
    response = await fetch(url, { ...init, headers: { Accept: FHIR_JSON, ...init.headers } });
  } catch (error) {
    // fetch() hides why on purpose: a CORS refusal and a dead server look the same.
    throw new Error(
      `The browser could not read ${url}. Either the server is not running, or its CORS ` +
        `policy does not allow this page's origin: start it with --cors-origins ${location.origin}.`
    );
  }
  const text = await response.text();
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch (error) {
    body = null;
  }
  if (!response.ok) {
    const outcome = body && body.resourceType === "OperationOutcome" ? body : null;
    const details = outcome
      ? outcome.issue.map((issue) => issue.diagnostics || issue.code).join("; ")
      : response.statusText;
    throw new Error(`The server answered ${response.status}: ${details}`);
  }
  return { response, body };
}

function patientLine(patient) {
  const name = (patient.name || [])[0] || {};
  const given = (name.given || []).join(" ");
  const label = [name.family, given].filter(Boolean).join(", ") || name.text || "(no name)";
  const item = document.createElement("li");
  item.dataset.id = patient.id;
  // textContent, never innerHTML: names come from the server and may hold markup.
  item.append(label);
  if (patient.birthDate) item.append(`, born ${patient.birthDate}`);
  if (patient.gender) item.append(`, ${patient.gender}`);
  const id = document.createElement("span");
  id.className = "id";
  id.textContent = ` Patient/${patient.id}`;
  item.append(id);
  return item;
}

async function loadPatients(url = `${base}/Patient?_count=${PAGE_SIZE}`, append = false) {
  const list = byId("patients");
  say(`Loading patients from ${base} ...`);
  try {
    const { body } = await fhir(url);
    if (!append) list.replaceChildren();
    for (const entry of body.entry || []) list.append(patientLine(entry.resource));
    nextPage = ((body.link || []).find((link) => link.relation === "next") || {}).url || null;
    byId("more").hidden = !nextPage;
    say(`${list.children.length} patient(s) from ${base}`);
  } catch (error) {
    say(error.message, "error");
  }
}

async function createPatient(form) {
  const data = new FormData(form);
  const patient = { resourceType: "Patient", name: [{ family: data.get("family").trim() }] };
  const given = data.get("given").trim();
  if (given) patient.name[0].given = given.split(/\s+/);
  if (data.get("birthDate")) patient.birthDate = data.get("birthDate");
  if (data.get("gender")) patient.gender = data.get("gender");
  say("Creating patient ...");
  try {
    const { response, body } = await fhir(`${base}/Patient`, {
      method: "POST",
      headers: { "Content-Type": FHIR_JSON },
      body: JSON.stringify(patient),
    });
    const where = response.headers.get("Location");
    const version = response.headers.get("ETag");
    byId("patients").prepend(patientLine(body));
    form.reset();
    say(`Created ${where || `Patient/${body.id}`} (ETag ${version || "not readable"})`);
  } catch (error) {
    say(error.message, "error");
  }
}

byId("page-origin").textContent = location.origin;
byId("base").value = base;
byId("server").addEventListener("submit", (event) => {
  event.preventDefault();
  base = byId("base").value.trim().replace(/\/+$/, "");
  localStorage.setItem("firehouse-example-base", base);
  loadPatients();
});
byId("create").addEventListener("submit", (event) => {
  event.preventDefault();
  createPatient(event.target);
});
byId("more").addEventListener("click", () => nextPage && loadPatients(nextPage, true));
loadPatients();
