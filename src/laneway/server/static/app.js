// laneway dashboard: a client of the API, like the CLI. It keeps no state of its own beyond
// what the watch streams say, and the token lives in sessionStorage only (never in a URL).
// Everything a team wrote (names, labels, messages) is put on the page as text, never markup.

const API = "/apis/laneway.dev/v1alpha1";
const TOKEN_KEY = "laneway.token";
const RETRY_MS = 1000;

// ---------- DOM helpers ----------

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

function table(headers, rows, attrs) {
  return h("div", { class: "table-wrap" },
    h("table", attrs || {},
      h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
}

function state(text, kind) {
  return h("span", { class: `state-${kind}` }, text);
}

function tags(map) {
  const entries = Object.entries(map || {});
  if (!entries.length) return h("span", { class: "muted" }, "none");
  return h("ul", { class: "tags" }, entries.map(([k, v]) => h("li", {}, `${k}=${v}`)));
}

function condition(obj, type) {
  return ((obj.status || {}).conditions || []).find((c) => c.type === type);
}

function key(obj) {
  return obj.metadata.namespace ? `${obj.metadata.namespace}/${obj.metadata.name}` : obj.metadata.name;
}

function byName(items) {
  return [...items].sort((a, b) => key(a).localeCompare(key(b)));
}

function link(href, text) {
  return h("a", { href }, text);
}

function announce(text) {
  document.getElementById("live").textContent = text;
}

// ---------- API and session ----------

const session = {
  token: sessionStorage.getItem(TOKEN_KEY) || "",
  role: "",
  namespaces: [],
};

class Unauthorized extends Error {}

async function api(path, init) {
  const headers = { Authorization: `Bearer ${session.token}`, Accept: "application/json", ...((init || {}).headers || {}) };
  const response = await fetch(path, { ...init, headers });
  if (response.status === 401) throw new Unauthorized(await messageOf(response));
  if (!response.ok) throw new Error(await messageOf(response));
  return response.json();
}

async function messageOf(response) {
  try {
    const body = await response.json();
    return body.message || `${response.status} ${response.statusText}`;
  } catch {
    return `${response.status} ${response.statusText}`;
  }
}

// ---------- watch streams ----------

// One watcher per kind, across every namespace the token may read (the API narrows a team
// token's list and watch to its namespaces). A view names the kinds it needs; the others'
// streams are closed so a browser's few connections per host are never exhausted.
class Watcher {
  constructor(plural, onChange) {
    this.plural = plural;
    this.onChange = onChange;
    this.items = new Map();
    this.resourceVersion = "";
    this.abort = null;
    this.synced = false;
  }

  start() {
    if (this.abort) return;
    this.abort = new AbortController();
    this.loop(this.abort.signal);
  }

  stop() {
    if (this.abort) this.abort.abort();
    this.abort = null;
  }

  async loop(signal) {
    while (!signal.aborted) {
      try {
        await this.follow(signal);
      } catch (error) {
        if (signal.aborted) return;
        if (error instanceof Unauthorized) { signOut(error.message); return; }
        announce(`${this.plural}: ${error.message}; reconnecting`);
      }
      await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
    }
  }

  async follow(signal) {
    const params = new URLSearchParams({ watch: "true" });
    if (this.resourceVersion) params.set("resourceVersion", this.resourceVersion);
    const response = await fetch(`${API}/${this.plural}?${params}`, {
      headers: { Authorization: `Bearer ${session.token}` }, signal,
    });
    if (response.status === 401) throw new Unauthorized(await messageOf(response));
    if (response.status === 410) { this.reset(); return; }
    if (!response.ok) throw new Error(await messageOf(response));
    if (!this.resourceVersion) { this.items.clear(); }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    this.synced = true;
    this.onChange(this);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buffer += value;
      let newline;
      while ((newline = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, newline).trim();
        buffer = buffer.slice(newline + 1);
        if (line) this.apply(JSON.parse(line));
      }
    }
  }

  apply(event) {
    if (event.type === "ERROR") {
      if ((event.object || {}).code === 410) this.reset();
      throw new Error((event.object || {}).message || "watch error");
    }
    const obj = event.object;
    if (event.type === "BOOKMARK") { this.resourceVersion = obj.metadata.resourceVersion; return; }
    this.resourceVersion = obj.metadata.resourceVersion || this.resourceVersion;
    if (event.type === "DELETED") this.items.delete(key(obj));
    else this.items.set(key(obj), obj);
    this.onChange(this);
  }

  reset() {
    this.resourceVersion = "";
    this.items.clear();
  }

  list() {
    return byName(this.items.values());
  }
}

const watchers = new Map();
let renderQueued = false;

function scheduleRender() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => { renderQueued = false; render(); });
}

function watch(plural) {
  let w = watchers.get(plural);
  if (!w) {
    w = new Watcher(plural, () => scheduleRender());
    watchers.set(plural, w);
  }
  w.start();
  return w;
}

function keepOnly(plurals) {
  for (const [plural, w] of watchers) if (!plurals.includes(plural)) { w.stop(); w.reset(); }
  for (const plural of plurals) watch(plural);
}

// ---------- derived figures ----------

function memberDevices(member) {
  const perNode = ((member.nodeSelector || {}).devices || []).reduce((n, d) => n + (d.count || 0), 0);
  return perNode * ((member.worker || {}).nodes || 1);
}

// Devices the visible replicas claim, per "cluster/pool".
function claimedDevices(replicas) {
  const used = new Map();
  for (const r of replicas) {
    const cluster = r.spec.clusterName;
    for (const engine of r.spec.engines || []) {
      for (const member of engine.members || []) {
        const where = `${cluster}/${member.nodePoolName}`;
        used.set(where, (used.get(where) || 0) + memberDevices(member) * (engine.copies || 1));
      }
    }
  }
  return used;
}

function replicaPools(replica) {
  const pools = new Set();
  for (const engine of replica.spec.engines || []) for (const m of engine.members || []) pools.add(m.nodePoolName);
  return [...pools].filter(Boolean).join(", ");
}

function phaseState(phase) {
  if (phase === "Ready") return state(phase, "ok");
  if (phase === "Failed") return state(phase, "bad");
  return state(phase || "Pending", "wait");
}

function conditionState(c) {
  if (!c) return state("Unknown", "wait");
  if (c.status === "True") return state(c.reason || "True", "ok");
  if (c.status === "False") return state(c.reason || "False", "bad");
  return state(c.reason || "Unknown", "wait");
}

function replicasOf(replicas, deployment) {
  return replicas.filter((r) => r.metadata.namespace === deployment.metadata.namespace
    && (r.metadata.labels || {})["laneway.dev/deployment"] === deployment.metadata.name);
}

// ---------- views ----------

function fleetView() {
  const clusters = watch("inferenceclusters").list();
  const replicas = watch("modelreplicas").list();
  const used = claimedDevices(replicas);
  const scope = session.role === "team" ? " (your namespaces' replicas)" : "";
  return [
    h("h1", {}, "Fleet"),
    clusters.length ? null : h("p", { class: "muted" }, "No clusters yet: a platform token publishes them (laneway apply -f examples/platform/)."),
    clusters.map((c) => {
      const ready = condition(c, "Ready");
      const pools = (c.status || {}).gpuPools || [];
      const runHere = replicas.filter((r) => r.spec.clusterName === c.metadata.name);
      return h("section", { class: "card", "aria-labelledby": `cluster-${c.metadata.name}`, "data-cluster": c.metadata.name },
        h("h2", { id: `cluster-${c.metadata.name}` }, `Cluster ${c.metadata.name}`),
        h("p", {}, "Readiness: ", conditionState(ready), ready && ready.message ? h("span", { class: "muted" }, ` ${ready.message}`) : null),
        h("p", {}, `Source: ${((c.spec.cluster || {}).source) || "?"}`),
        h("div", {}, "Labels: ", tags(c.metadata.labels)),
        h("div", {}, "Taints: ", (c.spec.taints || []).length
          ? h("ul", { class: "tags" }, c.spec.taints.map((t) => h("li", {}, `${t.key}=${t.value || ""}:${t.effect}`)))
          : h("span", { class: "muted" }, "none")),
        h("h3", {}, "Node pools"),
        // A team token sees only its own replicas, so "free" would be a guess: it gets "claimed" only.
        table(["pool", "class", "nodes", "devices", `claimed${scope}`, ...(scope ? [] : ["free"])],
          (c.spec.nodePools || []).map((p) => {
            const observed = pools.find((g) => g.name === p.name) || {};
            const total = observed.devices;
            const claimed = used.get(`${c.metadata.name}/${p.name}`) || 0;
            return h("tr", { "data-pool": `${c.metadata.name}/${p.name}` },
              h("td", {}, p.name), h("td", {}, p.className || ""),
              h("td", {}, observed.nodes ?? p.nodeCount ?? ""), h("td", {}, total ?? "not observed yet"),
              h("td", {}, claimed), scope ? null : h("td", {}, total === undefined ? "" : Math.max(total - claimed, 0)));
          })),
        h("h3", {}, `Running here${scope}`),
        runHere.length
          ? table(["replica", "pool", "phase"], runHere.map((r) => h("tr", {},
            h("td", {}, link(`#deployment/${r.metadata.namespace}/${(r.metadata.labels || {})["laneway.dev/deployment"] || ""}`, key(r))),
            h("td", {}, replicaPools(r)), h("td", {}, phaseState((r.status || {}).phase)))))
          : h("p", { class: "muted" }, "nothing"));
    }),
  ];
}

function deploymentsView() {
  const deployments = watch("modeldeployments").list();
  const replicas = watch("modelreplicas").list();
  return [
    h("h1", {}, "Deployments"),
    deployments.length ? table(["deployment", "replicas (ready / total / wanted)", "scheduled", "ready"],
      deployments.map((d) => {
        const counts = (d.status || {}).replicas || {};
        return h("tr", { "data-deployment": key(d) },
          h("td", {}, link(`#deployment/${d.metadata.namespace}/${d.metadata.name}`, key(d))),
          h("td", {}, `${counts.ready ?? 0} / ${counts.total ?? replicasOf(replicas, d).length} / ${d.spec.replicas ?? ""}`),
          h("td", {}, conditionState(condition(d, "ReplicasScheduled"))),
          h("td", {}, conditionState(condition(d, "ReplicasReady"))));
      })) : h("p", { class: "muted" }, "No deployments visible to this token."),
  ];
}

function deploymentView(namespace, name) {
  const deployments = watch("modeldeployments");
  const replicas = watch("modelreplicas").list();
  const d = deployments.items.get(`${namespace}/${name}`);
  const back = h("p", {}, link("#deployments", "All deployments"));
  if (!d) return [back, h("h1", {}, `${namespace}/${name}`), h("p", { class: "muted" }, deployments.synced ? "Not found (or not visible to this token)." : "Loading…")];
  const status = d.status || {};
  const mine = replicasOf(replicas, d);
  const scheduled = condition(d, "ReplicasScheduled");
  const autoscaling = status.autoscaling;
  return [
    back,
    h("h1", {}, `Deployment ${key(d)}`),
    h("p", {}, `Wanted replicas: ${d.spec.replicas ?? ""}; ready ${(status.replicas || {}).ready ?? 0} of ${(status.replicas || {}).total ?? 0}`),
    scheduled && scheduled.status !== "True" ? h("section", { class: "card", "aria-labelledby": "unplaced" },
      h("h2", { id: "unplaced" }, "Not placed: why"),
      h("ul", { class: "reasons" }, (scheduled.message || "").split("\n").filter(Boolean).map((line) => h("li", { class: "mono" }, line)))) : null,
    h("h2", {}, "Replicas"),
    mine.length ? table(["replica", "cluster", "pool", "phase", "message"], mine.map((r) => {
      const ready = condition(r, "Ready");
      return h("tr", { "data-replica": key(r) },
        h("td", {}, r.metadata.name),
        h("td", {}, link("#fleet", r.spec.clusterName)),
        h("td", {}, replicaPools(r)),
        h("td", {}, phaseState((r.status || {}).phase)),
        h("td", { class: "muted" }, ready ? ready.message || "" : ""));
    })) : h("p", { class: "muted" }, "No replicas."),
    h("h2", {}, "Conditions"),
    table(["type", "state", "message"], (status.conditions || []).map((c) => h("tr", { "data-condition": c.type },
      h("td", {}, c.type), h("td", {}, conditionState(c)), h("td", { class: "mono" }, c.message || "")))),
    status.rollout ? h("p", {}, `Rollout: ${status.rollout.state || ""} — ${status.rollout.message || ""}`) : null,
    status.lastPlacementChange ? h("p", {}, `Last placement change: ${status.lastPlacementChange.message || ""} (${status.lastPlacementChange.time || ""})`) : null,
    autoscaling ? h("section", { class: "card" }, h("h2", {}, "Autoscaling"),
      h("pre", { class: "mono" }, JSON.stringify(autoscaling, null, 2))) : null,
  ];
}

function placeholderView(title, text) {
  return [h("h1", {}, title), h("p", { class: "muted" }, text)];
}

const VIEWS = {
  fleet: { kinds: ["inferenceclusters", "modelreplicas"], render: () => fleetView() },
  deployments: { kinds: ["modeldeployments", "modelreplicas"], render: () => deploymentsView() },
  deployment: { kinds: ["modeldeployments", "modelreplicas"], render: (ns, name) => deploymentView(ns, name) },
  services: { kinds: [], render: () => placeholderView("Services", "Coming soon.") },
  tickets: { kinds: [], render: () => placeholderView("Tickets", "Coming soon.") },
  caches: { kinds: [], render: () => placeholderView("Caches", "Coming soon.") },
};

// ---------- routing and rendering ----------

function currentRoute() {
  const parts = location.hash.replace(/^#/, "").split("/").map(decodeURIComponent);
  const name = VIEWS[parts[0]] ? parts[0] : "fleet";
  return { name, args: VIEWS[parts[0]] ? parts.slice(1) : [] };
}

function render() {
  if (!session.role) return;
  const { name, args } = currentRoute();
  const view = document.getElementById("view");
  const focused = document.activeElement && document.activeElement.id;
  view.replaceChildren(...VIEWS[name].render(...args).flat().filter(Boolean));
  if (focused && document.getElementById(focused)) document.getElementById(focused).focus();
}

function route() {
  if (!session.role) return;
  const { name } = currentRoute();
  keepOnly(VIEWS[name].kinds);
  for (const a of document.querySelectorAll("#nav a")) {
    const here = a.getAttribute("href") === `#${name}` || (name === "deployment" && a.getAttribute("href") === "#deployments");
    if (here) a.setAttribute("aria-current", "page"); else a.removeAttribute("aria-current");
  }
  render();
}

function showSignedIn() {
  document.getElementById("signin").hidden = true;
  document.getElementById("nav").hidden = false;
  document.getElementById("signout").hidden = false;
  const scope = session.role === "team" ? ` · namespaces ${session.namespaces.join(", ")}` : " · whole fleet";
  document.getElementById("who").textContent = `Signed in: ${session.role} token${scope}`;
  route();
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  session.token = "";
  session.role = "";
  session.namespaces = [];
  keepOnly([]);
  document.getElementById("view").replaceChildren();
  document.getElementById("nav").hidden = true;
  document.getElementById("signout").hidden = true;
  document.getElementById("who").textContent = "";
  document.getElementById("signin").hidden = false;
  document.getElementById("signin-error").textContent = message || "";
  document.getElementById("token").focus();
}

// Which grant the token carries: GET /tokens lists only the token itself unless it is an
// admin token (which sees every token).
async function identify() {
  const list = await api(`${API}/tokens`);
  const items = list.items || [];
  if (items.length === 1) {
    session.role = items[0].role;
    session.namespaces = items[0].namespaces || [];
  } else {
    session.role = "admin";
    session.namespaces = [];
  }
}

async function signIn(token) {
  session.token = token;
  try {
    await identify();
  } catch (error) {
    signOut(error instanceof Unauthorized ? `That token was refused: ${error.message}` : `Could not sign in: ${error.message}`);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  showSignedIn();
}

document.getElementById("signin").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("token");
  const token = input.value.trim();
  input.value = "";
  signIn(token);
});
document.getElementById("signout").addEventListener("click", () => signOut("Signed out."));
window.addEventListener("hashchange", () => { route(); document.getElementById("main").focus(); });

if (session.token) signIn(session.token); else signOut("");
