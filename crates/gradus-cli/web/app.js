// The gradus playground: every control edits `state`, every change of `state` is
// written to the URL and re-runs the optimizers through the server's JSON API (the
// same engine as `gradus run`), and the results are drawn on canvases.
"use strict";

const COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
  "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#393b79", "#637939", "#843c39",
  "#7b4173", "#3182bd", "#e6550d"];
const MAX_RUNS = 16;
const MAX_STEPS = 100000;

// The report's experiments and the tutorials', one click each.
const BEALE = ["sgd(lr=0.01)", "sgd(lr=0.002, momentum=0.9)",
  "sgd(lr=0.002, momentum=0.9, nesterov=true)", "adagrad(lr=0.5)", "adadelta(lr=5.0)",
  "rmsprop(lr=0.01)", "adam(lr=0.05)"];
const SADDLE = ["sgd(lr=0.01)", "sgd(lr=0.01, momentum=0.9)",
  "sgd(lr=0.01, momentum=0.9, nesterov=true)", "adagrad(lr=0.5)", "adadelta(lr=1.0)",
  "rmsprop(lr=0.01)", "adam(lr=0.05)"];
const ZOO = ["sgd(lr=0.001, momentum=0.9)", "sgd(lr=0.001, momentum=0.9, nesterov=true)",
  "adagrad(lr=0.5)", "rmsprop(lr=0.005)", "adadelta(lr=1.0)", "adam(lr=0.05)",
  "adamw(lr=0.05)", "nadam(lr=0.05)", "radam(lr=0.003)", "adamax(lr=0.1)", "lion(lr=0.005)"];
const DIGITS = ["sgd(lr=0.05, momentum=0.9)", "adagrad(lr=0.05)", "rmsprop(lr=0.001)",
  "adam(lr=0.001)", "adamw(lr=0.001)", "nadam(lr=0.002)", "radam(lr=0.001)"];
const FOUR = ["sgd(lr=0.01)", "sgd(lr=0.01, momentum=0.9)", "rmsprop(lr=0.05)", "adam(lr=0.1)"];
const TUTORIAL_SCHEDULES = ["", "piecewise_constant(boundaries=[30, 60], values=[0.1, 0.05, 0.01])",
  "exp_decay(lam=0.1)", "inverse_poly(beta=0.1, alpha=0.5)"];

const runsOf = (specs, extra) => specs.map((o) => Object.assign({ o }, extra || {}));
const PRESETS = [
  { id: "beale", title: "Racing over Beale's function", state: { problem: "beale", start: "1,1.5", steps: 400, runs: runsOf(BEALE), tol: 1e-3 } },
  { id: "saddle", title: "Off a saddle point", state: { problem: "saddle", start: "1,0.001", steps: 60, runs: runsOf(SADDLE) } },
  { id: "illconditioned", title: "The ill-conditioned bowl 50·x0² + x1²", state: { problem: "quadratic", start: "1.5,10", steps: 100, runs: runsOf(["sgd(lr=0.019)", "sgd(lr=0.005)", "adagrad(lr=1.5)"]) } },
  { id: "noisy", title: "Noisy SGD under each schedule", state: { problem: "bowl", start: "-5,-5", noise: 1, seed: 1, steps: 100, runs: TUTORIAL_SCHEDULES.map((s) => ({ o: "sgd(lr=0.1)", s })) } },
  { id: "ladder", title: "The optimizer ladder on the bowl", state: { problem: "bowl", start: "-5,-5", steps: 50, runs: runsOf(["sgd(lr=0.1)", "sgd(lr=0.1, momentum=0.5, dampening=0.5)", "adagrad(lr=1.5)", "rmsprop(lr=0.3, alpha=0.9)", "adam(lr=0.5)"]) } },
  { id: "parabola", title: "lr 1.05 on x²: gradient descent diverges, Adam does not", state: { problem: "parabola", start: "10", steps: 10, runs: runsOf(["sgd(lr=0.1)", "sgd(lr=1.05)", "adam(lr=1.05)", "sgd(lr=0.1, momentum=0.5)"]) } },
  { id: "newton", title: "Newton's method on cosh(0.5·x)", state: { problem: "cosh", start: "10", steps: 10, runs: runsOf(["newton(lr=1.0)", "sgd(lr=0.2)"]) } },
  { id: "xcos", title: "Local and global minima of x·cos(πx)", state: { problem: "xcos", steps: 40, runs: [{ o: "sgd(lr=0.05)", start: "-0.5" }, { o: "sgd(lr=0.05)", start: "1.5" }] } },
  { id: "tanh", title: "A vanishing gradient: tanh from x = 4", state: { problem: "tanh", start: "4", steps: 100, runs: runsOf(["sgd(lr=0.5)", "adam(lr=0.1)"]) } },
  { id: "rosenbrock", title: "Every optimizer on the Rosenbrock function", state: { problem: "rosenbrock", start: "-1.5,2", steps: 3000, runs: runsOf(ZOO) } },
  { id: "himmelblau", title: "Himmelblau's function: four minima", state: { problem: "himmelblau", start: "0,0", steps: 200, runs: runsOf(FOUR), tol: 1e-4 } },
  { id: "booth", title: "Booth's function", state: { problem: "booth", start: "-5,5", steps: 200, runs: runsOf(FOUR), tol: 1e-4 } },
  { id: "rastrigin", title: "Rastrigin's function: many local minima", state: { problem: "rastrigin", start: "2.5,2.5", steps: 200, runs: runsOf(FOUR), tol: 1e-4 } },
  { id: "boston", title: "Boston housing with the first tutorial's settings", state: { problem: "boston", steps: 1000, runs: [
    { o: "sgd(lr=1e-4, momentum=0.9)", batch: "128" }, { o: "sgd(lr=1e-4, momentum=0.9, nesterov=true)", batch: "128" },
    { o: "adagrad(lr=0.1, eps=1e-10)", batch: "128" }, { o: "rmsprop(lr=0.01, alpha=0.9, eps=1e-10)", batch: "128", steps: "2000" },
    { o: "adam(lr=1e-3, betas=(0.9, 0.95), eps=1e-8)", batch: "32", steps: "2000" }] } },
  { id: "minibatch", title: "Minibatch size and gradient variance (Boston)", state: { problem: "boston", steps: 500, runs: ["1", "8", "32", "128", "404"].map((b) => ({ o: "sgd(lr=0.01)", batch: b })) } },
  { id: "digits", title: "A multilayer perceptron on the digits", state: { problem: "digits", batch: "64", steps: 3000, runs: runsOf(DIGITS) } },
];

const DEFAULT_STATE = { problem: "beale", start: "", steps: 400, noise: 0, seed: 0, batch: "", dtype: "f64", hidden: "", tol: 1e-3, step: null,
  runs: runsOf(["sgd(lr=0.01)", "sgd(lr=0.002, momentum=0.9)", "adam(lr=0.05)"]) };

const $ = (id) => document.getElementById(id);
let catalog = null;
let state = null;
let results = [];
let generation = 0;
let inflight = null;
let surfaceCache = new Map();
let mapBackground = null;
let playing = null;

// ---------- the spec language (a subset: keyword arguments with numbers, flags, tuples, lists)

function tokenize(text) {
  const tokens = [];
  const re = /\s*([A-Za-z_][A-Za-z0-9_]*|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[()[\],=])/y;
  let m;
  re.lastIndex = 0;
  while (re.lastIndex < text.length) {
    const at = re.lastIndex;
    m = re.exec(text);
    if (!m) {
      if (/^\s*$/.test(text.slice(at))) break;
      return null;
    }
    tokens.push(m[1]);
  }
  return tokens;
}

// Parses `name(k=v, ...)` into {name, args}; null if it is not that simple form (the
// server still accepts and checks whatever the user typed).
function parseSpec(text) {
  const t = tokenize(text || "");
  if (!t || t.length === 0 || !/^[A-Za-z_]/.test(t[0])) return null;
  let i = 1;
  const value = () => {
    const tok = t[i++];
    if (tok === "(" || tok === "[") {
      const close = tok === "(" ? ")" : "]";
      const items = [];
      while (t[i] !== close) {
        if (i >= t.length) throw new Error("unclosed");
        items.push(value());
        if (t[i] === ",") i++;
      }
      i++;
      // Tuples and lists are written back as they were given.
      if (tok === "(") items.tuple = true;
      return items;
    }
    if (/^(true|True)$/.test(tok)) return true;
    if (/^(false|False)$/.test(tok)) return false;
    const x = Number(tok);
    if (Number.isFinite(x)) return x;
    throw new Error("value");
  };
  const args = {};
  try {
    if (t.length > 1) {
      if (t[1] !== "(") return null;
      i = 2;
      while (t[i] !== ")") {
        const key = t[i];
        if (!/^[A-Za-z_]/.test(key) || t[i + 1] !== "=") return null;
        i += 2;
        args[key] = value();
        if (t[i] === ",") i++;
        else if (t[i] !== ")") return null;
      }
      if (i !== t.length - 1) return null;
    }
  } catch (e) {
    return null;
  }
  return { name: t[0], args };
}

function fmtNumber(x) {
  if (x === 0) return "0";
  const a = Math.abs(x);
  if (a < 1e-4 || a >= 1e6) return x.toExponential().replace(/\.?0+e/, "e").replace("e+", "e");
  return String(Number(x.toPrecision(12)));
}

function fmtValue(v, kind) {
  if (Array.isArray(v)) {
    const inner = v.map((x) => fmtValue(x)).join(", ");
    return kind === "pair" || v.tuple ? `(${inner})` : `[${inner}]`;
  }
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") return fmtNumber(v);
  return String(v);
}

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The spec with the arguments that differ from the defaults, in the table's order.
function buildSpec(name, args, algorithm) {
  const parts = [];
  const known = new Set();
  for (const p of (algorithm ? algorithm.params : [])) {
    known.add(p.name);
    if (p.name in args && !same(args[p.name], p.default)) parts.push(`${p.name}=${fmtValue(args[p.name], p.kind)}`);
  }
  for (const [k, v] of Object.entries(args)) {
    if (!known.has(k)) parts.push(`${k}=${fmtValue(v)}`);
  }
  return parts.length ? `${name}(${parts.join(", ")})` : name;
}

// ---------- state <-> URL

function stateToQuery(s) {
  const q = new URLSearchParams();
  q.set("problem", s.problem);
  for (const k of ["start", "steps", "noise", "seed", "batch", "dtype", "hidden", "tol"]) {
    if (s[k] !== "" && s[k] !== null && s[k] !== undefined && !same(s[k], DEFAULT_STATE[k])) q.set(k, s[k]);
  }
  if (s.step !== null && s.step !== undefined) q.set("step", s.step);
  for (const r of s.runs) {
    q.append("o", r.o);
    q.append("s", r.s || "");
    q.append("rs", r.start || "");
    q.append("rn", r.steps || "");
    q.append("rb", r.batch || "");
  }
  return q.toString();
}

function stateFromQuery(text) {
  const q = new URLSearchParams(text);
  if (!q.get("problem")) return null;
  const s = JSON.parse(JSON.stringify(DEFAULT_STATE));
  s.problem = q.get("problem");
  for (const k of ["start", "batch", "dtype", "hidden"]) if (q.has(k)) s[k] = q.get(k);
  for (const k of ["steps", "noise", "seed", "tol"]) if (q.has(k)) s[k] = Number(q.get(k));
  s.step = q.has("step") ? Number(q.get("step")) : null;
  const o = q.getAll("o"), sc = q.getAll("s"), rs = q.getAll("rs"), rn = q.getAll("rn"), rb = q.getAll("rb");
  s.runs = o.slice(0, MAX_RUNS).map((spec, i) => ({ o: spec, s: sc[i] || "", start: rs[i] || "", steps: rn[i] || "", batch: rb[i] || "" }));
  return s;
}

function normalize(s) {
  const base = JSON.parse(JSON.stringify(DEFAULT_STATE));
  const out = Object.assign(base, JSON.parse(JSON.stringify(s)));
  out.runs = (s.runs || []).map((r) => Object.assign({ o: "sgd", s: "", start: "", steps: "", batch: "" }, r));
  if (out.step === undefined) out.step = null;
  return out;
}

function writeUrl() {
  history.replaceState(null, "", "#" + stateToQuery(state));
}

// ---------- catalog helpers

const problemInfo = (name) => catalog.problems.find((p) => p.name === name);
const optimizerInfo = (name) => catalog.optimizers.find((o) => o.name === name);
const scheduleInfo = (name) => catalog.schedules.find((o) => o.name === name);
const isMap2d = (p) => p && p.dim === 2 && p.domain.length === 4;
const isCurve = (p) => p && p.dim === 1 && p.domain.length === 2;

// ---------- controls

function option(select, value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text || value;
  select.appendChild(o);
}

function sliderRange(p) {
  const d = typeof p.default === "number" ? p.default : 0.1;
  const has = (v) => v !== null && v !== undefined;
  // An open end of the valid range is kept just inside it.
  const inside = (hi, lo) => (has(p.max) && !p.max_inclusive ? hi - (hi - lo) * 1e-3 : hi);
  if (p.log_scale) {
    const lo0 = d > 0 ? Math.min(1e-6, d / 100) : 1e-6;
    const lo = has(p.min) && p.min > 0 ? Math.max(p.min, lo0) : lo0;
    const hi = has(p.max) ? p.max : Math.max(10, d * 100);
    // The far left of a log slider is 0 where 0 is valid (weight decay off).
    return { log: true, lo, hi: inside(hi, lo), zero: p.min === 0 && p.min_inclusive };
  }
  const lo = has(p.min) ? p.min : Math.min(0, d);
  const hi = has(p.max) ? p.max : Math.max(1, 4 * Math.abs(d));
  return { log: false, lo, hi: inside(hi, lo) };
}

const toSlider = (r, x) => r.log && r.zero && x <= 0 ? 0 : r.log ? 1000 * (Math.log10(Math.max(x, r.lo)) - Math.log10(r.lo)) / (Math.log10(r.hi) - Math.log10(r.lo))
  : 1000 * (x - r.lo) / (r.hi - r.lo);
const fromSlider = (r, s) => {
  if (r.log && r.zero && s <= 0) return 0;
  const v = r.log ? Math.pow(10, Math.log10(r.lo) + (s / 1000) * (Math.log10(r.hi) - Math.log10(r.lo))) : r.lo + (s / 1000) * (r.hi - r.lo);
  return Number(v.toPrecision(r.log ? 3 : 4));
};

// One slider (with a number box) for a number; `set` receives the new value.
function numberControl(label, value, p, set) {
  const row = document.createElement("div");
  row.className = "param";
  const id = "c" + Math.random().toString(36).slice(2);
  const name = document.createElement("label");
  name.textContent = label;
  name.htmlFor = id;
  name.title = [p.doc, p.range].filter(Boolean).join(" — ");
  const r = sliderRange(p);
  const slider = document.createElement("input");
  slider.type = "range";
  slider.min = 0;
  slider.max = 1000;
  slider.id = id;
  slider.dataset.param = label;
  slider.setAttribute("aria-label", label);
  slider.value = toSlider(r, value);
  const box = document.createElement("input");
  box.type = "number";
  box.step = "any";
  box.value = value;
  box.setAttribute("aria-label", label + " value");
  slider.addEventListener("input", () => {
    const v = fromSlider(r, Number(slider.value));
    box.value = v;
    set(v);
  });
  box.addEventListener("change", () => {
    const v = Number(box.value);
    if (Number.isFinite(v)) {
      slider.value = toSlider(r, v);
      set(v);
    }
  });
  row.append(name, slider, box);
  return row;
}

function paramControls(container, algorithm, args, onChange) {
  container.replaceChildren();
  for (const p of algorithm.params) {
    const current = p.name in args ? args[p.name] : p.default;
    const set = (v) => { args[p.name] = v; onChange(); };
    if (p.kind === "bool") {
      const row = document.createElement("div");
      row.className = "param flag";
      const label = document.createElement("label");
      label.textContent = p.name;
      label.title = p.doc || "";
      const box = document.createElement("input");
      box.type = "checkbox";
      box.checked = Boolean(current);
      box.setAttribute("aria-label", p.name);
      box.addEventListener("change", () => set(box.checked));
      row.append(label, box);
      container.appendChild(row);
    } else if ((p.kind === "float" || p.kind === "optional_float") && typeof current === "number") {
      container.appendChild(numberControl(p.name, current, p, set));
    } else if (p.kind === "int" && typeof current === "number") {
      const row = document.createElement("div");
      row.className = "param flag";
      const label = document.createElement("label");
      label.textContent = p.name;
      const box = document.createElement("input");
      box.type = "number";
      box.step = "1";
      box.value = current;
      box.setAttribute("aria-label", p.name);
      box.addEventListener("change", () => set(Math.round(Number(box.value))));
      row.append(label, box);
      container.appendChild(row);
    } else if (p.kind === "pair" && Array.isArray(current)) {
      current.forEach((c, j) => {
        const pj = Object.assign({}, p, { default: c, name: `${p.name}[${j}]` });
        container.appendChild(numberControl(`${p.name}[${j}]`, c, pj, (v) => {
          const pair = (p.name in args ? args[p.name] : p.default).slice();
          pair[j] = v;
          set(pair);
        }));
      });
    } else if (p.kind === "choice") {
      const row = document.createElement("div");
      row.className = "param flag";
      const label = document.createElement("label");
      label.textContent = p.name;
      const sel = document.createElement("select");
      sel.setAttribute("aria-label", p.name);
      for (const c of p.choices) option(sel, c);
      sel.value = current;
      sel.addEventListener("change", () => set(sel.value));
      row.append(label, sel);
      container.appendChild(row);
    }
    // Lists and nested specs are edited in the spec text.
  }
}

// Controls for the spec `text` of the algorithm `lookup` finds; `write` receives the
// spec the controls make. Returns the algorithm (null: the spec is edited as text only).
function specControls(container, text, lookup, write) {
  const parsed = parseSpec(text || "");
  const info = parsed && lookup(parsed.name);
  if (!info) {
    container.replaceChildren();
    return null;
  }
  paramControls(container, info, parsed.args, () => write(buildSpec(parsed.name, parsed.args, info)));
  return info;
}

function renderRuns() {
  const box = $("runs");
  box.replaceChildren();
  state.runs.forEach((run, i) => box.appendChild(runCard(run, i)));
  $("add-run").disabled = state.runs.length >= MAX_RUNS;
}

function runCard(run, i) {
  const card = $("run-template").content.firstElementChild.cloneNode(true);
  card.dataset.index = i;
  card.querySelector(".swatch").style.background = COLORS[i % COLORS.length];
  card.querySelector(".run-title").textContent = `Run ${i + 1}`;
  const algo = card.querySelector(".algorithm");
  for (const o of catalog.optimizers) option(algo, o.name);
  const specBox = card.querySelector(".spec");
  const hyper = card.querySelector(".hyper");
  const schedName = card.querySelector(".schedule-name");
  option(schedName, "", "constant lr");
  for (const s of catalog.schedules) option(schedName, s.name);
  const schedSpec = card.querySelector(".schedule-spec");

  const syncOptimizer = () => {
    specBox.value = run.o;
    const info = specControls(hyper, run.o, optimizerInfo, (spec) => {
      run.o = spec;
      specBox.value = spec;
      changed();
    });
    if (info) algo.value = info.name;
  };
  const schedHyper = card.querySelector(".schedule-hyper");
  const syncSchedule = () => {
    schedSpec.value = run.s || "";
    const info = specControls(schedHyper, run.s, scheduleInfo, (spec) => {
      run.s = spec;
      schedSpec.value = spec;
      changed();
    });
    schedName.value = info ? info.name : "";
    card.querySelector(".schedule-spec-field").hidden = !run.s;
  };
  syncOptimizer();
  syncSchedule();

  algo.addEventListener("change", () => {
    const parsed = parseSpec(run.o);
    const info = optimizerInfo(algo.value);
    // Keep the learning rate when switching algorithms, if both have one.
    const args = {};
    if (parsed && "lr" in parsed.args && info.params.some((p) => p.name === "lr")) args.lr = parsed.args.lr;
    run.o = buildSpec(algo.value, args, info);
    syncOptimizer();
    changed();
  });
  specBox.addEventListener("change", () => {
    run.o = specBox.value.trim() || "sgd";
    syncOptimizer();
    changed();
  });
  schedName.addEventListener("change", () => {
    run.s = schedName.value ? defaultScheduleSpec(schedName.value) : "";
    syncSchedule();
    changed();
  });
  schedSpec.addEventListener("change", () => {
    run.s = schedSpec.value.trim();
    syncSchedule();
    changed();
  });
  for (const [cls, key] of [[".run-start", "start"], [".run-steps", "steps"], [".run-batch", "batch"]]) {
    const input = card.querySelector(cls);
    input.value = run[key] || "";
    input.addEventListener("change", () => { run[key] = input.value.trim(); changed(); });
  }
  if (run.start || run.steps || run.batch) card.querySelector("details").open = true;
  card.querySelector(".remove").addEventListener("click", () => {
    state.runs.splice(i, 1);
    renderRuns();
    changed();
  });
  return card;
}

// A schedule spec to start from: the required arguments filled in for this run.
function defaultScheduleSpec(name) {
  const steps = Number(state.steps) || 100;
  const examples = {
    step: `step(step_size=${Math.max(1, Math.round(steps / 4))}, gamma=0.5)`,
    multi_step: `multi_step(milestones=[${Math.round(steps / 3)}, ${Math.round((2 * steps) / 3)}], gamma=0.5)`,
    exponential: "exponential(gamma=0.99)",
    cosine_annealing: `cosine_annealing(t_max=${steps})`,
    cosine_annealing_warm_restarts: `cosine_annealing_warm_restarts(t_0=${Math.max(1, Math.round(steps / 4))})`,
    polynomial: `polynomial(total_iters=${steps})`,
    linear: `linear(total_iters=${steps})`,
    constant: `constant(total_iters=${Math.max(1, Math.round(steps / 4))})`,
    one_cycle: `one_cycle(max_lr=0.1, total_steps=${steps})`,
    sequential: `sequential(schedulers=[linear(start_factor=0.1, total_iters=${Math.round(steps / 10)}), cosine_annealing(t_max=${steps})], milestones=[${Math.round(steps / 10)}])`,
    reduce_on_plateau: "reduce_on_plateau(patience=10)",
    piecewise_constant: `piecewise_constant(boundaries=[${Math.round(steps / 3)}, ${Math.round((2 * steps) / 3)}], values=[0.1, 0.05, 0.01])`,
    exp_decay: "exp_decay(lam=0.1)",
    inverse_poly: "inverse_poly(beta=0.1, alpha=0.5)",
  };
  return examples[name] || name;
}

function renderProblemControls() {
  const p = problemInfo(state.problem);
  $("problem").value = state.problem;
  $("problem-summary").textContent = p ? p.summary : "";
  $("start").value = state.start;
  $("start").placeholder = p && p.start ? p.start.join(",") : "default";
  $("steps").value = state.steps;
  $("noise").value = state.noise;
  $("seed").value = state.seed;
  $("batch").value = state.batch;
  $("dtype").value = state.dtype;
  $("hidden").value = state.hidden;
  $("tol").value = state.tol;
  $("batch-field").hidden = !(p && p.kind === "data");
  $("hidden-field").hidden = !(p && p.takes_hidden);
  $("start-hint").hidden = !(isMap2d(p) || isCurve(p));
}

// The preset the view is, if it is one.
function showPreset() {
  const known = PRESETS.find((pr) => same(normalize(pr.state), Object.assign({}, state, { step: null })));
  $("preset").value = known ? known.id : "";
}

function renderAll() {
  renderProblemControls();
  renderRuns();
}

// ---------- running

let debounce = null;
// Changes made so far; a round of runs knows which it answers.
let changes = 0;
function changed() {
  // `busy` until the runs of the last change are drawn (the browser tests wait on it).
  changes++;
  document.body.dataset.busy = "1";
  writeUrl();
  showPreset();
  updateCommand();
  clearTimeout(debounce);
  debounce = setTimeout(runAll, 120);
}

function runRequest(run) {
  const p = problemInfo(state.problem);
  const steps = Math.min(MAX_STEPS, Math.max(1, Math.round(Number(run.steps || state.steps) || 1)));
  const req = { problem: state.problem, optimizer: run.o, steps, seed: Number(state.seed) || 0, dtype: state.dtype };
  if (run.s) req.schedule = run.s;
  const start = run.start || state.start;
  if (start) req.start = start.split(",").map(Number);
  if (Number(state.noise) > 0) req.noise = Number(state.noise);
  const batch = run.batch || state.batch;
  if (p && p.kind === "data" && batch) req.batch_size = Math.round(Number(batch));
  if (p && p.takes_hidden && state.hidden) req.hidden = Math.round(Number(state.hidden));
  // Keep about 2000 points of a long run (the page cannot show more).
  // Data problems: the training loss is a pass over the data, so 100 points of it.
  const every = Math.max(1, Math.floor(steps / (p && p.kind === "data" ? 100 : 2000)));
  if (every > 1) req.every = every;
  if (p && p.kind === "data") req.eval_every = Math.max(1, Math.floor(steps / 25));
  return req;
}

function setStatus(text, isError) {
  $("status").textContent = text;
  $("status").classList.toggle("error", Boolean(isError));
}

async function postJson(url, body, signal) {
  const res = await fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body), signal });
  const data = await res.json();
  if (!res.ok) throw new Error(data.error || `HTTP ${res.status}`);
  return data;
}

// A data problem's run, read line by line as the server computes it.
async function streamRun(req, signal, onUpdate) {
  const res = await fetch("/api/run/stream", { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(req), signal });
  if (!res.ok) {
    const data = await res.json();
    throw new Error(data.error || `HTTP ${res.status}`);
  }
  const out = { steps: [], loss: [], lr: [], params: [], eval: [], summary: null, stopped: null };
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    buf += decoder.decode(value, { stream: true });
    let nl;
    while ((nl = buf.indexOf("\n")) >= 0) {
      const line = JSON.parse(buf.slice(0, nl));
      buf = buf.slice(nl + 1);
      if ("step" in line) {
        out.steps.push(line.step);
        out.loss.push(line.loss);
        out.lr.push(line.lr);
        if (line.params) out.params.push(line.params);
      } else if (line.eval) out.eval.push(line.eval);
      else if (line.summary) out.summary = line.summary;
      else if ("stopped" in line) out.stopped = line.stopped;
      else if (line.error) throw new Error(line.error);
    }
    onUpdate(out);
  }
  if (out.params.length === 0) out.params = null;
  return out;
}

async function runAll() {
  const gen = ++generation;
  const answers = changes;
  if (inflight) inflight.abort();
  const controller = new AbortController();
  inflight = controller;
  const p = problemInfo(state.problem);
  if (!p) {
    setStatus(`unknown problem '${state.problem}'`, true);
    if (answers === changes) delete document.body.dataset.busy;
    return;
  }
  await ensureSurface();
  if (gen !== generation) return;
  const reqs = state.runs.map(runRequest);
  results = reqs.map(() => null);
  const t0 = performance.now();
  setStatus("running…");
  const data = p.kind === "data";
  $("progress-box").hidden = !data;
  let frame = null;
  const progress = () => {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = null;
      if (gen !== generation) return;
      const done = results.reduce((a, r, i) => a + (r && r.steps.length ? r.steps[r.steps.length - 1] : 0) / reqs[i].steps, 0);
      $("progress").value = reqs.length ? done / reqs.length : 1;
      $("progress-text").textContent = `${Math.round((100 * done) / Math.max(1, reqs.length))} %`;
      drawAll();
    });
  };
  await Promise.all(reqs.map(async (req, i) => {
    try {
      const r = data ? await streamRun(req, controller.signal, (partial) => { results[i] = partial; progress(); })
        : await postJson("/api/run", req, controller.signal);
      if (gen === generation) results[i] = r;
    } catch (e) {
      if (e.name === "AbortError") return;
      if (gen === generation) results[i] = { error: e.message, steps: [], loss: [], lr: [], params: null };
    }
  }));
  if (frame) cancelAnimationFrame(frame);
  if (gen !== generation) return;
  inflight = null;
  const errors = results.filter((r) => r && r.error).length;
  setStatus(errors ? `${errors} run${errors > 1 ? "s" : ""} failed` : `${reqs.length} run${reqs.length === 1 ? "" : "s"} in ${Math.round(performance.now() - t0)} ms`, errors > 0);
  $("progress").value = 1;
  $("progress-text").textContent = "done";
  drawAll();
  document.body.dataset.runs = String(generation);
  if (answers === changes) delete document.body.dataset.busy;
}

// ---------- the map

function view() {
  const p = problemInfo(state.problem);
  const d = p.domain.slice();
  // Grow the box to hold the start points.
  for (const r of state.runs) {
    const s = (r.start || state.start || "").split(",").map(Number);
    if (s.length === d.length / 2 && s.every(Number.isFinite)) {
      for (let k = 0; k < s.length; k++) {
        const span = d[2 * k + 1] - d[2 * k];
        if (s[k] < d[2 * k]) d[2 * k] = s[k] - 0.1 * span;
        if (s[k] > d[2 * k + 1]) d[2 * k + 1] = s[k] + 0.1 * span;
      }
    }
  }
  return d;
}

const PAD = { left: 52, right: 14, top: 14, bottom: 36 };

async function ensureSurface() {
  const p = problemInfo(state.problem);
  const canvas = $("map");
  const show = isMap2d(p) || isCurve(p);
  canvas.hidden = !show;
  $("no-map").hidden = show;
  if (!show) return;
  const d = view();
  const n = isMap2d(p) ? 160 : 400;
  const q = new URLSearchParams({ problem: p.name, xmin: d[0], xmax: d[1], n });
  if (isMap2d(p)) { q.set("ymin", d[2]); q.set("ymax", d[3]); }
  const key = q.toString();
  if (!surfaceCache.has(key)) {
    const res = await fetch("/api/surface?" + key);
    const s = await res.json();
    if (!res.ok) { setStatus(s.error, true); return; }
    surfaceCache.set(key, s);
  }
  const surface = surfaceCache.get(key);
  mapBackground = isMap2d(p) ? contourImage(surface, canvas) : { surface, curve: true };
}

// Viridis-like colours for levels 0..1.
const STOPS = [[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]];
function colour(t) {
  const x = Math.min(0.9999, Math.max(0, t)) * (STOPS.length - 1);
  const i = Math.floor(x), f = x - i;
  return STOPS[i].map((c, k) => Math.round(c + f * (STOPS[i + 1][k] - c)));
}

// Filled contour bands on a log scale of the loss above its minimum on the grid, with
// the band edges drawn as lines.
function contourImage(s, canvas) {
  const W = canvas.width - PAD.left - PAD.right, H = canvas.height - PAD.top - PAD.bottom;
  const n = s.x.length;
  const vals = s.values.flat().filter((v) => v !== null);
  const vmin = Math.min(...vals), vmax = Math.max(...vals);
  const eps = (vmax - vmin) * 1e-6 + 1e-12;
  const lmin = Math.log(eps), lmax = Math.log(vmax - vmin + eps);
  const level = (v) => v === null ? 1 : (Math.log(v - vmin + eps) - lmin) / (lmax - lmin);
  const grid = s.values.map((row) => row.map(level));
  const img = new ImageData(W, H);
  const bands = 18;
  const bandAt = new Int16Array(W * H);
  const tAt = new Float32Array(W * H);
  for (let py = 0; py < H; py++) {
    const gy = (1 - py / (H - 1)) * (n - 1);
    const j = Math.min(n - 2, Math.floor(gy)), fy = gy - j;
    for (let px = 0; px < W; px++) {
      const gx = (px / (W - 1)) * (n - 1);
      const i = Math.min(n - 2, Math.floor(gx)), fx = gx - i;
      const t = (1 - fy) * ((1 - fx) * grid[j][i] + fx * grid[j][i + 1]) + fy * ((1 - fx) * grid[j + 1][i] + fx * grid[j + 1][i + 1]);
      tAt[py * W + px] = t;
      bandAt[py * W + px] = Math.floor(t * bands);
    }
  }
  for (let k = 0; k < W * H; k++) {
    const px = k % W;
    const edge = (px + 1 < W && bandAt[k + 1] !== bandAt[k]) || (k + W < W * H && bandAt[k + W] !== bandAt[k]);
    const c = colour((bandAt[k] + 0.5) / bands);
    const shade = edge ? 0.55 : 1;
    img.data[4 * k] = c[0] * shade * 0.35 + 255 * 0.65 * shade;
    img.data[4 * k + 1] = c[1] * shade * 0.35 + 255 * 0.65 * shade;
    img.data[4 * k + 2] = c[2] * shade * 0.35 + 255 * 0.65 * shade;
    img.data[4 * k + 3] = 255;
  }
  const off = document.createElement("canvas");
  off.width = W;
  off.height = H;
  off.getContext("2d").putImageData(img, 0, 0);
  return { image: off, surface: s };
}

function mapTransform() {
  const canvas = $("map");
  const d = view();
  const W = canvas.width - PAD.left - PAD.right, H = canvas.height - PAD.top - PAD.bottom;
  const p = problemInfo(state.problem);
  if (isMap2d(p)) {
    return { d, W, H, x: (v) => PAD.left + ((v - d[0]) / (d[1] - d[0])) * W, y: (v) => PAD.top + (1 - (v - d[2]) / (d[3] - d[2])) * H,
      ix: (px) => d[0] + ((px - PAD.left) / W) * (d[1] - d[0]), iy: (py) => d[2] + (1 - (py - PAD.top) / H) * (d[3] - d[2]) };
  }
  const s = mapBackground && mapBackground.surface;
  const ys = s ? s.values.filter((v) => v !== null) : [0, 1];
  let lo = Math.min(...ys), hi = Math.max(...ys);
  if (hi - lo < 1e-12) { lo -= 1; hi += 1; }
  const pad = 0.06 * (hi - lo);
  lo -= pad; hi += pad;
  return { d: [d[0], d[1], lo, hi], W, H, x: (v) => PAD.left + ((v - d[0]) / (d[1] - d[0])) * W, y: (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * H,
    ix: (px) => d[0] + ((px - PAD.left) / W) * (d[1] - d[0]), iy: () => 0 };
}

function ticks(lo, hi, count) {
  const span = hi - lo;
  const step0 = Math.pow(10, Math.floor(Math.log10(span / count)));
  const step = [1, 2, 5, 10].map((m) => m * step0).find((s) => span / s <= count) || step0 * 10;
  const out = [];
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9 * span; v += step) out.push(Number(v.toPrecision(10)));
  return out;
}

function axes(ctx, t, xlabel, ylabel) {
  ctx.strokeStyle = "#888";
  ctx.lineWidth = 1;
  ctx.strokeRect(PAD.left, PAD.top, t.W, t.H);
  ctx.fillStyle = "#333";
  ctx.font = "12px system-ui, sans-serif";
  ctx.textAlign = "center";
  for (const v of ticks(t.d[0], t.d[1], 8)) {
    const px = t.x(v);
    ctx.fillText(fmtNumber(v), px, PAD.top + t.H + 15);
  }
  ctx.textAlign = "right";
  for (const v of ticks(t.d[2], t.d[3], 7)) ctx.fillText(fmtNumber(v), PAD.left - 5, t.y(v) + 4);
  ctx.textAlign = "center";
  ctx.fillText(xlabel, PAD.left + t.W / 2, PAD.top + t.H + 31);
  ctx.save();
  ctx.translate(13, PAD.top + t.H / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(ylabel, 0, 0);
  ctx.restore();
}

// The index of the last kept record at or before the playback step.
function upto(r) {
  if (!r || !r.steps.length) return -1;
  if (state.step === null) return r.steps.length - 1;
  let k = 0;
  while (k + 1 < r.steps.length && r.steps[k + 1] <= state.step) k++;
  return k;
}

function drawMap() {
  const canvas = $("map");
  const p = problemInfo(state.problem);
  if (!(isMap2d(p) || isCurve(p)) || !mapBackground) return;
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const t = mapTransform();
  if (mapBackground.image) ctx.drawImage(mapBackground.image, PAD.left, PAD.top);
  ctx.save();
  ctx.beginPath();
  ctx.rect(PAD.left, PAD.top, t.W, t.H);
  ctx.clip();
  const labels = p.kind === "data" ? ["w", "b"] : ["x", isMap2d(p) ? "y" : "f(x)"];
  if (isCurve(p)) {
    const s = mapBackground.surface;
    ctx.strokeStyle = "#222";
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    s.x.forEach((x, i) => { if (s.values[i] !== null) ctx[i ? "lineTo" : "moveTo"](t.x(x), t.y(s.values[i])); });
    ctx.stroke();
  }
  // Minima.
  for (const m of (p.minimum ? p.minimum.points : [])) {
    const mx = t.x(m[0]), my = isMap2d(p) ? t.y(m[1]) : t.y(p.minimum.value);
    ctx.fillStyle = "#fff";
    star(ctx, mx, my, 11);
    ctx.fillStyle = "#000";
    star(ctx, mx, my, 8);
  }
  results.forEach((r, i) => {
    if (!r || !r.params || !r.params.length) return;
    const k = upto(r);
    const pts = r.params.slice(0, k + 1).map((q, j) => isMap2d(p) ? [t.x(q[0]), t.y(q[1])] : [t.x(q[0]), t.y(r.loss[j])]);
    ctx.strokeStyle = COLORS[i % COLORS.length];
    ctx.fillStyle = COLORS[i % COLORS.length];
    ctx.lineWidth = 2;
    ctx.beginPath();
    pts.forEach(([x, y], j) => ctx[j ? "lineTo" : "moveTo"](x, y));
    ctx.stroke();
    if (pts.length < 60) pts.forEach(([x, y]) => { ctx.beginPath(); ctx.arc(x, y, 2.5, 0, 2 * Math.PI); ctx.fill(); });
    const [ex, ey] = pts[pts.length - 1];
    ctx.beginPath();
    ctx.arc(ex, ey, 5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.strokeStyle = "#fff";
    ctx.lineWidth = 1.5;
    ctx.stroke();
    if (r.stopped && state.step === null) cross(ctx, ex, ey, 7, COLORS[i % COLORS.length]);
  });
  // Start points.
  ctx.strokeStyle = "#000";
  ctx.lineWidth = 1.5;
  for (const start of startPoints()) {
    const sx = t.x(start[0]), sy = isMap2d(p) ? t.y(start[1]) : t.y(valueOnCurve(start[0]));
    ctx.beginPath();
    ctx.arc(sx, sy, 6, 0, 2 * Math.PI);
    ctx.stroke();
  }
  ctx.restore();
  axes(ctx, t, labels[0], labels[1]);
}

function valueOnCurve(x) {
  const s = mapBackground.surface;
  let best = 0;
  s.x.forEach((v, i) => { if (Math.abs(v - x) < Math.abs(s.x[best] - x)) best = i; });
  return s.values[best];
}

function startPoints() {
  const p = problemInfo(state.problem);
  const out = [];
  const seen = new Set();
  for (const r of state.runs) {
    const text = r.start || state.start;
    const v = text ? text.split(",").map(Number) : p.start;
    if (v && v.every(Number.isFinite) && !seen.has(String(v))) { seen.add(String(v)); out.push(v); }
  }
  return out;
}

function star(ctx, x, y, r) {
  ctx.beginPath();
  for (let k = 0; k < 10; k++) {
    const a = -Math.PI / 2 + (k * Math.PI) / 5;
    const rr = k % 2 ? r * 0.45 : r;
    ctx[k ? "lineTo" : "moveTo"](x + rr * Math.cos(a), y + rr * Math.sin(a));
  }
  ctx.closePath();
  ctx.fill();
}

function cross(ctx, x, y, r, color) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.moveTo(x - r, y - r); ctx.lineTo(x + r, y + r);
  ctx.moveTo(x + r, y - r); ctx.lineTo(x - r, y + r);
  ctx.stroke();
}

// ---------- charts

function chart(canvas, series, opts) {
  const ctx = canvas.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  const W = canvas.width - PAD.left - PAD.right, H = canvas.height - PAD.top - PAD.bottom;
  const finite = series.flatMap((s) => s.points.map((q) => q[1]).filter(Number.isFinite));
  const xs = series.flatMap((s) => s.points.map((q) => q[0]));
  ctx.fillStyle = "#333";
  ctx.font = "12px system-ui, sans-serif";
  if (!finite.length) {
    ctx.fillText(opts.empty || "no data yet", PAD.left + 10, PAD.top + 20);
    return;
  }
  const log = opts.log && finite.every((v) => v > 0);
  const f = (v) => log ? Math.log10(v) : v;
  let lo = Math.min(...finite.map(f)), hi = Math.max(...finite.map(f));
  if (opts.cap) {
    // A diverging run must not wreck the scale: cap the top at a margin over the starts.
    const starts = series.map((s) => s.points.length ? f(s.points[0][1]) : -Infinity).filter(Number.isFinite);
    if (starts.length) hi = Math.min(hi, Math.max(...starts) + (log ? 1 : 0.25 * (Math.max(...starts) - lo)));
  }
  if (hi - lo < 1e-12) { lo -= 0.5; hi += 0.5; }
  const pad = 0.04 * (hi - lo);
  lo -= pad; hi += pad;
  const x0 = Math.min(...xs), x1 = Math.max(x0 + 1, Math.max(...xs));
  const t = { d: [x0, x1, lo, hi], W, H, x: (v) => PAD.left + ((v - x0) / (x1 - x0)) * W, y: (v) => PAD.top + (1 - (f(v) - lo) / (hi - lo)) * H };
  ctx.save();
  ctx.beginPath();
  ctx.rect(PAD.left, PAD.top, W, H);
  ctx.clip();
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.75;
    ctx.beginPath();
    let moved = false;
    for (const [x, y] of s.points) {
      if (!Number.isFinite(y) || (log && y <= 0)) { moved = false; continue; }
      const py = Math.max(PAD.top - 5, Math.min(PAD.top + H + 5, t.y(y)));
      ctx[moved ? "lineTo" : "moveTo"](t.x(x), py);
      moved = true;
    }
    ctx.stroke();
    if (s.diverged && s.points.length) {
      const [x, y] = s.points[s.points.length - 1];
      cross(ctx, t.x(x), Math.max(PAD.top + 6, Math.min(PAD.top + H - 6, t.y(y))), 6, s.color);
    }
  }
  if (opts.marker !== undefined && opts.marker !== null) {
    ctx.strokeStyle = "#999";
    ctx.setLineDash([4, 4]);
    ctx.beginPath();
    ctx.moveTo(t.x(opts.marker), PAD.top);
    ctx.lineTo(t.x(opts.marker), PAD.top + H);
    ctx.stroke();
    ctx.setLineDash([]);
  }
  ctx.restore();
  // Axes, with log ticks as powers of ten.
  const yt = { d: [x0, x1, lo, hi], W, H, x: t.x, y: (v) => PAD.top + (1 - (v - lo) / (hi - lo)) * H };
  ctx.strokeStyle = "#888";
  ctx.strokeRect(PAD.left, PAD.top, W, H);
  ctx.fillStyle = "#333";
  ctx.textAlign = "center";
  for (const v of ticks(x0, x1, 6)) ctx.fillText(fmtNumber(v), t.x(v), PAD.top + H + 15);
  ctx.textAlign = "right";
  // Log axes over several decades are labelled at the powers of ten, over fewer with
  // the values themselves.
  const decades = hi - lo >= 2;
  for (const v of ticks(lo, hi, 6)) {
    if (log && decades && Math.abs(v - Math.round(v)) > 1e-9) continue;
    const text = !log ? fmtNumber(v) : decades ? `1e${Math.round(v)}` : fmtNumber(Number(Math.pow(10, v).toPrecision(2)));
    ctx.fillText(text, PAD.left - 5, yt.y(v) + 4);
  }
  ctx.textAlign = "center";
  ctx.fillText(opts.xlabel, PAD.left + W / 2, PAD.top + H + 31);
  ctx.save();
  ctx.translate(13, PAD.top + H / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.fillText(opts.ylabel + (log ? " (log)" : ""), 0, 0);
  ctx.restore();
}

function drawCharts() {
  const p = problemInfo(state.problem);
  const series = (pick) => results.map((r, i) => ({
    color: COLORS[i % COLORS.length],
    diverged: Boolean(r && r.stopped),
    points: r ? pick(r) : [],
  }));
  chart($("loss-chart"), series((r) => r.steps.map((s, k) => [s, r.loss[k] === null ? NaN : r.loss[k]])),
    { log: true, cap: true, xlabel: "step", ylabel: p.kind === "data" ? "training loss" : "loss f(x)", marker: state.step });
  chart($("lr-chart"), series((r) => r.steps.map((s, k) => [s, r.lr[k] === null ? NaN : r.lr[k]])),
    { log: false, xlabel: "step", ylabel: "learning rate", marker: state.step });
  const acc = p.classifier;
  $("acc-figure").hidden = !(p.kind === "data");
  if (p.kind === "data") {
    chart($("acc-chart"), series((r) => (r.eval || []).map((e) => [e.step, acc ? e.test_accuracy : e.test_loss])),
      { log: !acc, xlabel: "step", ylabel: acc ? "test accuracy" : "test loss", marker: state.step, empty: "evaluating…" });
  }
}

// ---------- readout, command, playback

function runLabel(i) {
  const r = state.runs[i];
  return r.o + (r.s ? ` + ${r.s}` : "") + (r.start ? ` from (${r.start})` : "") + (r.batch ? `, batch ${r.batch}` : "");
}

function readoutRows() {
  const p = problemInfo(state.problem);
  const tol = Number(state.tol);
  const minValue = p.minimum ? p.minimum.value : 0;
  return results.map((r, i) => {
    const row = { label: runLabel(i), color: COLORS[i % COLORS.length], final: "", distance: "", toTol: "", note: "" };
    if (!r) { row.note = "running…"; return row; }
    if (r.error) { row.note = r.error; row.bad = true; return row; }
    const n = r.steps.length;
    if (n) row.final = fmtLoss(r.loss[n - 1]);
    if (p.minimum && p.minimum.points.length && r.params && r.params.length) {
      const last = r.params[r.params.length - 1];
      const d = Math.min(...p.minimum.points.map((m) => Math.hypot(...m.map((v, k) => v - last[k]))));
      row.distance = fmtLoss(d);
    }
    if (Number.isFinite(tol)) {
      const k = r.loss.findIndex((l) => l !== null && l - minValue <= tol);
      row.toTol = k >= 0 ? String(r.steps[k]) : "never";
    }
    if (r.stopped) { row.note = "diverged: " + r.stopped; row.bad = true; }
    else if (r.summary && r.summary.test_accuracy !== undefined) row.note = `test accuracy ${(100 * r.summary.test_accuracy).toFixed(1)} %`;
    return row;
  });
}

function fmtLoss(x) {
  if (x === null || x === undefined) return "–";
  const a = Math.abs(x);
  if (x === 0) return "0";
  return a >= 1e-3 && a < 1e6 ? x.toFixed(4) : x.toExponential(3);
}

function drawReadout() {
  const body = $("readout").querySelector("tbody");
  body.replaceChildren();
  for (const row of readoutRows()) {
    const tr = document.createElement("tr");
    const name = document.createElement("td");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = row.color;
    name.append(sw, " " + row.label);
    tr.appendChild(name);
    for (const [k, cls] of [["final", "final"], ["distance", ""], ["toTol", ""], ["note", "note"]]) {
      const td = document.createElement("td");
      td.textContent = row[k];
      if (cls) td.className = cls;
      if (k === "note" && row.bad) td.classList.add("bad");
      tr.appendChild(td);
    }
    body.appendChild(tr);
  }
}

const quote = (s) => /^[A-Za-z0-9_.,=:\/-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`;

function compareCommand() {
  const p = problemInfo(state.problem);
  const args = ["gradus", "compare", "--problem", state.problem];
  const reqs = state.runs.map(runRequest);
  if (!reqs.length) return "";
  const shared = (key) => reqs.every((r) => same(r[key], reqs[0][key]));
  const each = (flag, key, fmt, fallback) => {
    if (reqs.every((r) => r[key] === undefined)) return;
    if (shared(key)) args.push(flag, quote(fmt(reqs[0][key])));
    else for (const r of reqs) args.push(flag, quote(r[key] === undefined ? fallback : fmt(r[key])));
  };
  const startOf = (v) => v.join(",");
  if (reqs.every((r) => r.start !== undefined) || reqs.every((r) => r.start === undefined)) each("--start", "start", startOf, "");
  else for (const r of reqs) args.push("--start", quote(startOf(r.start || p.start)));
  each("--steps", "steps", String, String(state.steps));
  each("--batch-size", "batch_size", String, "");
  each("--schedule", "schedule", String, "none");
  if (reqs[0].noise) args.push("--noise", String(reqs[0].noise));
  if (reqs[0].seed) args.push("--seed", String(reqs[0].seed));
  if (state.dtype !== "f64") args.push("--dtype", state.dtype);
  if (reqs[0].hidden) args.push("--hidden", String(reqs[0].hidden));
  if (shared("every") && reqs[0].every) args.push("--every", String(reqs[0].every));
  for (const r of reqs) args.push("--optimizer", quote(r.optimizer));
  if (Number.isFinite(Number(state.tol))) args.push("--tol", fmtNumber(Number(state.tol)));
  return args.join(" ");
}

function updateCommand() {
  $("command").value = compareCommand();
}

function maxSteps() {
  return Math.max(1, ...state.runs.map((r) => Number(r.steps || state.steps) || 1));
}

function drawPlayback() {
  const slider = $("step-slider");
  const max = maxSteps();
  slider.max = max;
  slider.value = state.step === null ? max : state.step;
  $("step-out").textContent = `step ${state.step === null ? max : state.step} / ${max}`;
}

function drawAll() {
  drawMap();
  drawCharts();
  drawReadout();
  drawPlayback();
}

function play() {
  if (playing) {
    cancelAnimationFrame(playing);
    playing = null;
    $("play").textContent = "▶ Play";
    return;
  }
  const max = maxSteps();
  const t0 = performance.now();
  const duration = Math.min(6000, 1500 + 4 * max);
  $("play").textContent = "❚❚ Pause";
  const tick = (now) => {
    const f = Math.min(1, (now - t0) / duration);
    state.step = f >= 1 ? null : Math.round(f * max);
    drawAll();
    if (f < 1) playing = requestAnimationFrame(tick);
    else { playing = null; $("play").textContent = "▶ Play"; writeUrl(); }
  };
  playing = requestAnimationFrame(tick);
}

// ---------- export

function download(name, href) {
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

function exportPng() {
  const map = $("map"), loss = $("loss-chart"), lr = $("lr-chart");
  const showMap = !map.hidden;
  const legendH = 20 * state.runs.length + 16;
  const width = Math.max(showMap ? map.width : 0, loss.width + lr.width);
  const height = (showMap ? map.height : 0) + loss.height + legendH;
  const out = document.createElement("canvas");
  out.width = width;
  out.height = height;
  const ctx = out.getContext("2d");
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  let y = 0;
  if (showMap) { ctx.drawImage(map, 0, 0); y = map.height; }
  ctx.drawImage(loss, 0, y);
  ctx.drawImage(lr, loss.width, y);
  y += loss.height + 8;
  ctx.font = "13px system-ui, sans-serif";
  readoutRows().forEach((row, i) => {
    ctx.fillStyle = row.color;
    ctx.fillRect(10, y + 20 * i, 12, 12);
    ctx.fillStyle = "#222";
    ctx.fillText(`${row.label}   final loss ${row.final}${row.note ? "   " + row.note : ""}`, 28, y + 20 * i + 11);
  });
  download(`gradus-${state.problem}.png`, out.toDataURL("image/png"));
}

function exportCsv() {
  const np = Math.max(0, ...results.map((r) => (r && r.params && r.params[0] ? r.params[0].length : 0)));
  const lines = [["run", "optimizer", "schedule", "step", "loss", "lr", ...Array.from({ length: np }, (_, j) => `p${j}`)].join(",")];
  results.forEach((r, i) => {
    if (!r) return;
    r.steps.forEach((s, k) => {
      const p = r.params && r.params[k] ? r.params[k] : [];
      const cells = [i + 1, `"${state.runs[i].o}"`, `"${state.runs[i].s || ""}"`, s, r.loss[k], r.lr[k], ...p];
      lines.push(cells.join(","));
    });
  });
  const url = URL.createObjectURL(new Blob([lines.join("\n") + "\n"], { type: "text/csv" }));
  download(`gradus-${state.problem}.csv`, url);
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

// ---------- wiring

function applyState(s) {
  state = normalize(s);
  renderAll();
  mapBackground = null;
  changed();
}

function setStartFromEvent(ev) {
  const p = problemInfo(state.problem);
  if (!(isMap2d(p) || isCurve(p))) return;
  const canvas = $("map");
  const rect = canvas.getBoundingClientRect();
  const px = ((ev.clientX - rect.left) / rect.width) * canvas.width;
  const py = ((ev.clientY - rect.top) / rect.height) * canvas.height;
  const t = mapTransform();
  if (px < PAD.left || px > PAD.left + t.W || py < PAD.top || py > PAD.top + t.H) return;
  const x = Number(t.ix(px).toPrecision(4));
  state.start = isMap2d(p) ? `${x},${Number(t.iy(py).toPrecision(4))}` : String(x);
  for (const r of state.runs) r.start = "";
  $("start").value = state.start;
  state.step = null;
  changed();
  drawMap();
}

function wire() {
  const sel = $("problem");
  for (const p of catalog.problems) option(sel, p.name, `${p.name}${p.kind === "data" ? " (data)" : ""}`);
  const pre = $("preset");
  option(pre, "", "— choose an experiment —");
  for (const p of PRESETS) option(pre, p.id, p.title);
  pre.addEventListener("change", () => {
    const p = PRESETS.find((x) => x.id === pre.value);
    if (p) applyState(p.state);
  });
  sel.addEventListener("change", () => {
    state.problem = sel.value;
    state.start = "";
    for (const r of state.runs) r.start = "";
    state.step = null;
    mapBackground = null;
    renderProblemControls();
    changed();
  });
  for (const [id, key, num] of [["start", "start", false], ["steps", "steps", true], ["noise", "noise", true], ["seed", "seed", true], ["batch", "batch", false], ["dtype", "dtype", false], ["hidden", "hidden", false], ["tol", "tol", true]]) {
    $(id).addEventListener("change", () => {
      const v = $(id).value.trim();
      state[key] = num ? Number(v) : v;
      if (key === "start") { mapBackground = null; }
      state.step = null;
      changed();
    });
  }
  $("add-run").addEventListener("click", () => {
    if (state.runs.length >= MAX_RUNS) return;
    const names = state.runs.map((r) => (parseSpec(r.o) || {}).name);
    const next = catalog.optimizers.find((o) => o.name !== "newton" && !names.includes(o.name)) || catalog.optimizers[0];
    state.runs.push({ o: next.name, s: "", start: "", steps: "", batch: "" });
    renderRuns();
    changed();
    const cards = $("runs").querySelectorAll(".run");
    cards[cards.length - 1].querySelector(".algorithm").focus();
  });
  $("step-slider").addEventListener("input", () => {
    const v = Number($("step-slider").value);
    state.step = v >= maxSteps() ? null : v;
    drawAll();
    writeUrl();
  });
  $("play").addEventListener("click", play);
  $("export-png").addEventListener("click", exportPng);
  $("export-csv").addEventListener("click", exportCsv);
  $("copy-link").addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(location.href);
      setStatus("link copied");
    } catch (e) {
      $("command").value = location.href;
      $("command").select();
      setStatus("copy the link from the box below");
    }
  });
  const map = $("map");
  let dragging = false;
  map.addEventListener("pointerdown", (ev) => { dragging = true; map.setPointerCapture(ev.pointerId); setStartFromEvent(ev); });
  map.addEventListener("pointermove", (ev) => { if (dragging) setStartFromEvent(ev); });
  map.addEventListener("pointerup", () => { dragging = false; });
  window.addEventListener("hashchange", () => {
    const s = stateFromQuery(location.hash.slice(1));
    if (s && stateToQuery(s) !== stateToQuery(state)) applyState(s);
  });
}

async function main() {
  try {
    const res = await fetch("/api/catalog");
    catalog = await res.json();
  } catch (e) {
    setStatus("could not load the catalog: " + e.message, true);
    return;
  }
  wire();
  const fromUrl = location.hash.length > 1 ? stateFromQuery(location.hash.slice(1)) : null;
  applyState(fromUrl || PRESETS[0].state);
}

main();
