// The status page's script: polls /status/data every second and redraws the tables and the
// uplinks' plots. Every value goes in through textContent, never as markup: names come from
// API clients and guests (DHCP hostnames), and must not become script.
"use strict";

const POLL_MS = 1000;
const SVG = "http://www.w3.org/2000/svg";

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = String(text);
  if (cls) e.className = cls;
  return e;
}

// Replaces a table's body with one row per item; `cells` gives a row's values, `decorate`
// may set the row's id and class.
function fill(id, items, cells, decorate) {
  const body = document.querySelector("#" + id + " tbody");
  const rows = [];
  for (const item of items || []) {
    const tr = el("tr");
    for (const c of cells(item)) tr.appendChild(c instanceof Node ? c : el("td", c));
    if (decorate) decorate(tr, item);
    rows.push(tr);
  }
  if (rows.length === 0) {
    const tr = el("tr");
    const td = el("td", "none", "empty");
    td.colSpan = document.querySelectorAll("#" + id + " th").length;
    tr.appendChild(td);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function num(v, cls) { return el("td", v, "num" + (cls ? " " + cls : "")); }

function ms(v) { return v === null || v === undefined ? "–" : v.toFixed(2) + " ms"; }

function bytes(v) {
  if (v === null || v === undefined) return "–";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let i = 0;
  while (v >= 1000 && i < units.length - 1) { v /= 1000; i++; }
  return v.toFixed(i ? 1 : 0) + " " + units[i];
}

function safeId(prefix, name) { return prefix + "-" + String(name).replace(/[^A-Za-z0-9_.-]/g, "_"); }

// One uplink's last hour: traffic (rx, tx in bytes/s) and probe latency, over a shared time axis;
// red bands where it was down.
function plot(name, points, every) {
  const W = 360, H = 90, now = Date.now() / 1000, span = 3600;
  const x = t => W - (now - t) / span * W;
  const fig = el("figure");
  fig.id = safeId("plot", name);
  const series = (key, svg, cls, top) => {
    const vals = points.map(p => p[key]).filter(v => v !== null && v !== undefined);
    const max = Math.max(top || 0, ...vals, 1e-9);
    const coords = points.filter(p => p[key] !== null && p[key] !== undefined)
      .map(p => x(p.t).toFixed(1) + "," + (H - 4 - p[key] / max * (H - 14)).toFixed(1));
    if (coords.length) {
      const line = document.createElementNS(SVG, "polyline");
      line.setAttribute("points", coords.join(" "));
      line.setAttribute("class", cls);
      svg.appendChild(line);
    }
    return max;
  };
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("width", W);
  svg.setAttribute("height", H);
  svg.setAttribute("viewBox", "0 0 " + W + " " + H);
  for (const p of points) {
    if (p.up) continue;
    const band = document.createElementNS(SVG, "rect");
    band.setAttribute("x", x(p.t - every).toFixed(1));
    band.setAttribute("width", Math.max(1, every / span * W).toFixed(1));
    band.setAttribute("y", 0);
    band.setAttribute("height", H);
    band.setAttribute("class", "down-span");
    svg.appendChild(band);
  }
  const top = Math.max(...points.map(p => Math.max(p.rx_bps || 0, p.tx_bps || 0)), 1e-9);
  series("rx_bps", svg, "rx", top);
  series("tx_bps", svg, "tx", top);
  const rttMax = series("rtt_ms", svg, "rtt");
  const label = document.createElementNS(SVG, "text");
  label.setAttribute("x", 2);
  label.setAttribute("y", 10);
  label.textContent = "peak " + bytes(top) + "/s, " + ms(rttMax > 1e-6 ? rttMax : null) + "; last hour";
  svg.appendChild(label);
  fig.appendChild(svg);
  const cap = el("figcaption");
  cap.append(name + ": ", el("span", "rx", "legend-rx"), " / ", el("span", "tx", "legend-tx"),
             " bytes/s, ", el("span", "probe latency", "legend-rtt"));
  fig.appendChild(cap);
  return fig;
}

function packet(d) {
  if (!d.proto) return "non-ip";
  const ports = d.proto === "tcp" || d.proto === "udp";
  return d.proto + " " + d.src + (ports ? ":" + d.sport : "") + " → " + d.dst + (ports ? ":" + d.dport : "");
}

function render(data) {
  const s = data.status || {};
  const c = s.counts || {};
  document.getElementById("summary").textContent =
    "vmgwd " + (s.version || "?") + ", generation " + (s.generation ?? "?") + ": " +
    (c.vms ?? 0) + " VMs, " + (c.networks ?? 0) + " networks, " + (c.uplinks ?? 0) + " uplinks, " +
    (c.elastic_ips_bound ?? 0) + "/" + (c.elastic_ips_allocated ?? 0) + " elastic IPs bound";

  fill("uplinks", data.uplinks, u => [
    u.name, u.device, el("td", u.state, "state"), num(ms(u.rtt_ms)),
    num(u.loss === undefined ? "–" : (u.loss * 100).toFixed(1) + " %"),
    (u.carries || []).join(", "), u.reason || ""
  ], (tr, u) => { tr.id = safeId("uplink", u.name); tr.className = u.state === "up" ? "up" : "down"; tr.dataset.state = u.state; });

  const hist = (data.history && data.history.uplinks) || {};
  const every = (data.history && data.history.every_s) || 10;
  document.getElementById("plots").replaceChildren(
    ...Object.keys(hist).sort().map(n => plot(n, hist[n], every)));

  fill("networks", data.networks, n => [n.name, n.bridge, n.subnet, n.gateway, n.dhcp ? "yes" : "no", num(n.vms)]);
  fill("vms", data.vms, v => [
    v.name, v.network, v.ip, v.mac, v.elastic_ip || "–",
    (v.filters || []).map(f => typeof f === "string" ? f : (f.filter || f.name || JSON.stringify(f))).join(", ")
  ], (tr, v) => { tr.id = safeId("vm", v.name); });
  fill("eips", data.eips, e => [e.address, e.pool, e.vm || "–"]);
  fill("forwards", data.forwards, f => [f.public, f.proto, f.to]);
  // The filters in use, and those the operator defined: not the built-ins nothing refers to.
  fill("filters", (data.filters || []).filter(f => !f.builtin || f.references > 0 || (f.used_by || []).length),
       f => [f.name, f.chain, num(f.rules), num(f.references), (f.used_by || []).join(", "),
             f.builtin ? (f.replaces_builtin ? "replaced built-in" : "built-in") : "defined"]);
  fill("counters", (data.counters || []).filter(r => r.packets > 0), r => [r.chain, r.rule, num(r.packets), num(bytes(r.bytes))]);
  fill("drops", ((data.drops && data.drops.entries) || []).slice().reverse(),
       d => [d.time, d.vm || "–", d.direction || "–", d.verdict, d.rule, packet(d)]);
  fill("changes", data.changes, ch => [ch.time, ch.object, ch.change, ch.message],
       (tr, ch) => { if (!ch.ok) tr.className = "failed"; });
}

async function poll() {
  const fresh = document.getElementById("freshness");
  try {
    const r = await fetch("/status/data", { cache: "no-store" });
    if (!r.ok) throw new Error("HTTP " + r.status);
    render(await r.json());
    fresh.textContent = "updated " + new Date().toLocaleTimeString();
    fresh.className = "";
  } catch (e) {
    // vmgwd restarting is not an error of the page: say so, and try again.
    fresh.textContent = "vmgwd not answering (" + e.message + "); retrying";
    fresh.className = "stale";
  }
  setTimeout(poll, POLL_MS);
}

poll();
