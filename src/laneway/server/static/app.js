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

// Conditions that are good news when False: a ticket not retired, with no retirement warning.
const GOOD_WHEN_FALSE = new Set(["Retired", "RetirementWarning"]);

function conditionState(c) {
  if (!c) return state("Unknown", "wait");
  if (GOOD_WHEN_FALSE.has(c.type)) return state(c.reason || c.status, c.status === "False" ? "ok" : "wait");
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

// Traffic over time, kept in this tab's memory: one sample each time a gateway writes new
// figures into a service's status (the dashboard never asks the gateway itself).
const traffic = new Map();
const TRAFFIC_SAMPLES = 240;

function recordTraffic(service) {
  const figures = (service.status || {}).traffic || [];
  const id = key(service);
  const seen = JSON.stringify(figures);
  const series = traffic.get(id) || { last: "", points: [] };
  traffic.set(id, series);
  if (!figures.length || seen === series.last) return series;
  series.last = seen;
  let perSecond = 0;
  let p95 = null;
  for (const g of figures) {
    const requests = Object.values(g.requests || {}).reduce((n, v) => n + v, 0);
    perSecond += requests / (g.windowSeconds || 300);
    if (g.p95LatencySeconds !== undefined && g.p95LatencySeconds !== null) p95 = Math.max(p95 || 0, g.p95LatencySeconds);
  }
  series.points.push([Date.now() / 1000, perSecond, p95]);
  if (series.points.length > TRAFFIC_SAMPLES) series.points.shift();
  return series;
}

function trafficChart(id, series) {
  const holder = h("div", { class: "chart", role: "img", "aria-label": `Requests per second and p95 latency of ${id} over time, sampled as the gateway reports them` });
  if (typeof uPlot === "undefined" || series.points.length < 2) {
    holder.append(h("p", { class: "muted" }, "The chart fills in as the gateway reports traffic (two reports needed)."));
    return holder;
  }
  const data = [series.points.map((p) => p[0]), series.points.map((p) => p[1]), series.points.map((p) => p[2])];
  const width = Math.max(Math.min(document.getElementById("main").clientWidth - 60, 720), 260);
  // eslint-disable-next-line no-undef
  new uPlot({
    width, height: 180,
    series: [{}, { label: "requests/s", stroke: "#0969da" }, { label: "p95 latency (s)", stroke: "#9a6700", dash: [6, 4], scale: "s" }],
    axes: [{}, { label: "req/s" }, { side: 1, scale: "s", label: "s", grid: { show: false } }],
  }, data, holder);
  return holder;
}

function selectorText(selector) {
  const labels = Object.entries((selector || {}).matchLabels || {}).map(([k, v]) => `${k}=${v}`);
  const exprs = ((selector || {}).matchExpressions || []).map((e) => `${e.key} ${e.operator} ${(e.values || []).join(",")}`);
  return [...labels, ...exprs].join(", ") || "everything";
}

function seconds(value) {
  return value === undefined || value === null ? "n/a" : `${Number(value).toFixed(3)} s`;
}

function canFlipBreakGlass() {
  return session.role === "platform" || session.role === "admin";
}

async function flipBreakGlass(service, on) {
  const what = on ? "ON: traffic goes to its BreakGlass tier first" : "OFF: traffic follows Primary, then Overflow";
  if (!window.confirm(`Turn break-glass ${what} for ${key(service)}?`)) return;
  const path = `${API}/namespaces/${encodeURIComponent(service.metadata.namespace)}/modelservices/${encodeURIComponent(service.metadata.name)}`;
  try {
    await api(path, { method: "PATCH", headers: { "Content-Type": "application/merge-patch+json" }, body: JSON.stringify({ spec: { breakGlass: on } }) });
    announce(`Break-glass ${on ? "on" : "off"} for ${key(service)}.`);
  } catch (error) {
    announce(`Break-glass not changed for ${key(service)}: ${error.message}`);
  }
}

function servicesView() {
  const services = watch("modelservices").list();
  const endpoints = watch("modelendpoints");
  if (!services.length) return [h("h1", {}, "Services"), h("p", { class: "muted" }, "No services visible to this token.")];
  return [
    h("h1", {}, "Services"),
    services.map((s) => {
      const status = s.status || {};
      const slo = s.spec.slo || {};
      const series = recordTraffic(s);
      const on = Boolean(s.spec.breakGlass);
      const id = `service-${s.metadata.namespace}-${s.metadata.name}`;
      return h("section", { class: "card", "aria-labelledby": id, "data-service": key(s) },
        h("h2", { id }, `Service ${key(s)}`),
        h("p", {}, "Ready: ", conditionState(condition(s, "Ready")), " · SLO: ", conditionState(condition(s, "SLOMet"))),
        h("p", { class: "mono" }, `Address: ${status.address || "not routed yet"}`),
        h("p", {}, `Model names: ${(s.spec.modelNames || []).join(", ") || "none"} · owner ${((s.spec.owner || {}).team) || "?"}`),
        h("p", { "data-break-glass": on ? "on" : "off" }, "Break-glass: ", on ? state("ON", "bad") : state("OFF", "ok"),
          canFlipBreakGlass()
            ? h("button", { type: "button", onclick: () => flipBreakGlass(s, !on) }, on ? "Turn break-glass off" : "Turn break-glass on")
            : null),
        h("h3", {}, "Routing entries"),
        table(["tier", "weight", "selects"], (s.spec.endpoints || []).map((e) => h("tr", {},
          h("td", {}, e.tier || "Primary"), h("td", {}, e.weight ?? 1), h("td", { class: "mono" }, selectorText(e.selector))))),
        h("h3", {}, "Endpoints routed"),
        (status.endpoints || []).length ? table(["endpoint", "tier", "share", "state"], status.endpoints.map((e) => {
          const endpoint = endpoints.items.get(`${s.metadata.namespace}/${e.name}`);
          const ready = endpoint ? Boolean((endpoint.status || {}).ready) : null;
          return h("tr", { "data-endpoint": e.name },
            h("td", {}, e.name), h("td", {}, e.tier), h("td", {}, Number(e.weight).toFixed(2)),
            h("td", {}, ready === null ? state("unknown", "wait") : ready ? state("Ready", "ok") : state("Not ready", "bad")));
        })) : h("p", { class: "muted" }, "No endpoint routed."),
        (status.excluded || []).length ? [h("h3", {}, "Excluded (data boundary and other rules)"),
          table(["endpoint", "why"], status.excluded.map((e) => h("tr", {}, h("td", {}, e.name), h("td", { class: "mono" }, e.reason))))] : null,
        (status.problems || []).length ? [h("h3", {}, "Problems"), h("ul", { class: "reasons" }, status.problems.map((p) => h("li", { class: "mono" }, p)))] : null,
        h("h3", {}, "Traffic (per gateway, recent window)"),
        (status.traffic || []).length ? table(["gateway", "requests by tier", "errors", "p95 latency (SLO)", "p95 TTFT (SLO)"],
          status.traffic.map((g) => h("tr", {},
            h("td", {}, g.gateway), h("td", {}, Object.entries(g.requests || {}).map(([t, n]) => `${t} ${n}`).join(", ") || "0"),
            h("td", {}, g.errors ?? 0),
            h("td", {}, `${seconds(g.p95LatencySeconds)} (${slo.p95Latency || "no SLO"})`),
            h("td", {}, `${seconds(g.p95TimeToFirstTokenSeconds)} (${slo.p95TimeToFirstToken || "no SLO"})`)))) : h("p", { class: "muted" }, "No traffic reported yet."),
        trafficChart(key(s), series));
    }),
  ];
}

const ROW_ORDER = ["ModelRow", "EngineRow", "HardwareRow", "FleetBoundaryRow", "SovereigntyRow", "ScalingRow", "EndpointRow", "OverflowRow", "CacheRow", "LifecycleRow"];

function rowResult(c) {
  if (c.status === "True") return state("Pass", "ok");
  if (c.reason === "NotChecked") return state("Not checked", "wait");
  return state("Fail", "bad");
}

function ticketsView() {
  const tickets = watch("inferencetickets").list();
  if (!tickets.length) return [h("h1", {}, "Tickets"), h("p", { class: "muted" }, "No tickets visible to this token.")];
  return [
    h("h1", {}, "Tickets"),
    tickets.map((t) => {
      const status = t.status || {};
      const conditions = status.conditions || [];
      const rows = ROW_ORDER.map((type) => conditions.find((c) => c.type === type)).filter(Boolean);
      const others = conditions.filter((c) => !ROW_ORDER.includes(c.type));
      const id = `ticket-${t.metadata.namespace}-${t.metadata.name}`;
      const approval = status.approved ? state(`Approved by ${status.approvedBy || "?"} (${status.approvedRole || "?"}) at ${status.approvedAt || "?"}`, "ok") : state("Not approved", "wait");
      return h("section", { class: "card", "aria-labelledby": id, "data-ticket": key(t) },
        h("h2", { id }, `Ticket ${key(t)}`),
        h("p", {}, `Model: ${((t.spec.model || {}).name) || "?"} — ${((t.spec.model || {}).job) || ""}`),
        h("p", {}, "Approval: ", approval),
        h("p", {}, `Retire after: ${((t.spec.lifecycle || {}).retireAfter) || "not set"} · revisions kept: ${((t.spec.lifecycle || {}).revisionHistoryLimit) ?? "default"}`),
        status.composed && status.composed.length ? h("p", {}, `Composed: ${status.composed.join(", ")}`) : null,
        table(["row", "result", "reason", "why"], rows.map((c) => h("tr", { "data-row": c.type },
          h("td", {}, c.type.replace(/Row$/, "")), h("td", {}, rowResult(c)), h("td", {}, c.reason || ""), h("td", { class: "mono" }, c.message || "")))),
        others.length ? table(["condition", "state", "message"], others.map((c) => h("tr", {},
          h("td", {}, c.type), h("td", {}, conditionState(c)), h("td", { class: "mono" }, c.message || "")))) : null);
    }),
  ];
}

function cacheState(s) {
  if (s === "Ready") return state(s, "ok");
  if (s === "Failed") return state(s, "bad");
  return state(s || "Pending", "wait");
}

function cachesView() {
  const caches = watch("modelcaches").list();
  if (!caches.length) return [h("h1", {}, "Caches"), h("p", { class: "muted" }, "No caches visible to this token.")];
  return [
    h("h1", {}, "Caches"),
    caches.map((c) => {
      const id = `cache-${c.metadata.namespace}-${c.metadata.name}`;
      const clusters = (c.status || {}).clusters || [];
      return h("section", { class: "card", "aria-labelledby": id, "data-cache": key(c) },
        h("h2", { id }, `Cache ${key(c)}`),
        h("p", {}, `Source: ${c.spec.source || "?"} · clusters: ${selectorText(c.spec.clusterSelector)}`),
        clusters.length ? table(["cluster", "state", "staged", "message"], clusters.map((s) => h("tr", { "data-cluster": s.cluster },
          h("td", {}, link("#fleet", s.cluster)), h("td", {}, cacheState(s.state)),
          h("td", {}, s.bytes === undefined || s.bytes === null ? "" : `${(s.bytes / 2 ** 20).toFixed(1)} MiB`),
          h("td", { class: "mono" }, s.message || "")))) : h("p", { class: "muted" }, "No cluster matches yet."));
    }),
  ];
}

const VIEWS = {
  fleet: { kinds: ["inferenceclusters", "modelreplicas"], render: () => fleetView() },
  deployments: { kinds: ["modeldeployments", "modelreplicas"], render: () => deploymentsView() },
  deployment: { kinds: ["modeldeployments", "modelreplicas"], render: (ns, name) => deploymentView(ns, name) },
  services: { kinds: ["modelservices", "modelendpoints"], render: () => servicesView() },
  tickets: { kinds: ["inferencetickets"], render: () => ticketsView() },
  caches: { kinds: ["modelcaches"], render: () => cachesView() },
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
