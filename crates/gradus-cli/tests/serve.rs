//! `gradus serve` end to end: a server on an ephemeral port, spoken to over plain
//! HTTP/1.1. `/api/run` must answer with exactly the numbers `gradus run --format jsonl`
//! prints (one engine), the catalog must list what the command line knows, and every
//! bad request must be answered 4xx with an `{"error": ...}` naming the culprit.

use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Output, Stdio};

/// A running `gradus serve`, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_gradus"))
            .args(["serve", "--port", "0"])
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("gradus serve starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .strip_prefix("gradus playground: http://127.0.0.1:")
            .unwrap_or_else(|| panic!("first line is the URL: {line:?}"));
        let port = url.trim().trim_end_matches('/').parse().unwrap();
        Server { child, port }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Sends one request with the given Host header; returns status and body.
    fn request_as(&self, host: &str, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).unwrap();
        // A server may answer (413) before reading the whole body and close.
        let _ = s.write_all(body);
        let mut raw = Vec::new();
        let _ = s.read_to_end(&mut raw);
        let text = String::from_utf8(raw).unwrap();
        let (head, rest) = text.split_once("\r\n\r\n").expect("a complete response");
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let chunked = head
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked");
        (
            status,
            if chunked {
                dechunk(rest)
            } else {
                rest.to_string()
            },
        )
    }

    fn request(&self, method: &str, path: &str, body: &[u8]) -> (u16, String) {
        self.request_as(&self.host(), method, path, body)
    }

    fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let (status, text) = self.request("POST", path, body.to_string().as_bytes());
        (status, serde_json::from_str(&text).unwrap())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    loop {
        let (size, rest) = s.split_once("\r\n").unwrap();
        let n = usize::from_str_radix(size.trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.push_str(&rest[..n]);
        s = &rest[n + 2..];
    }
}

fn gradus(args: &[String]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gradus"))
        .args(args)
        .output()
        .expect("the gradus binary runs")
}

/// The `gradus run` flags of a run request.
fn flags(req: &Value) -> Vec<String> {
    let mut args = vec!["run".to_string(), "--format".into(), "jsonl".into()];
    for (k, v) in req.as_object().unwrap() {
        let flag = format!("--{}", k.replace('_', "-"));
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Array(a) => a
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(","),
            other => other.to_string(),
        };
        args.push(flag);
        args.push(text);
    }
    args
}

/// The summary without its wall time, which differs between any two runs.
fn timeless(mut summary: Value) -> Value {
    summary.as_object_mut().unwrap().remove("wall_seconds");
    summary
}

/// Bits of a JSON number as the run's dtype holds it.
fn bits(v: &Value, f32: bool) -> u64 {
    let x = v.as_f64().unwrap_or_else(|| panic!("{v} is a number"));
    if f32 {
        (x as f32).to_bits() as u64
    } else {
        x.to_bits()
    }
}

/// `/api/run` (columns), `/api/run/stream` (lines) and `gradus run --format jsonl` on
/// the same request: the same records and summary, bit for bit.
fn assert_same_as_cli(server: &Server, req: &Value) {
    let out = gradus(&flags(req));
    let cli = String::from_utf8(out.stdout).unwrap();
    let diverged = out.status.code() == Some(3);
    assert!(
        out.status.success() || diverged,
        "{req}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<Value> = cli
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (records, summary) = if diverged {
        (&lines[..], None)
    } else {
        let (s, r) = lines.split_last().unwrap();
        (r, Some(timeless(s["summary"].clone())))
    };
    let f32 = req["dtype"] == "f32";

    let (status, api) = server.post("/api/run", req);
    assert_eq!(status, 200, "{req}: {api}");
    assert_eq!(
        api["steps"].as_array().unwrap().len(),
        records.len(),
        "{req}"
    );
    for (i, r) in records.iter().enumerate() {
        assert_eq!(api["steps"][i], r["step"], "{req}: step {i}");
        assert_eq!(
            bits(&api["loss"][i], f32),
            bits(&r["loss"], f32),
            "{req}: loss at {i}"
        );
        assert_eq!(
            bits(&api["lr"][i], false),
            bits(&r["lr"], false),
            "{req}: lr at {i}"
        );
        let (a, c) = (api["params"][i].as_array(), r["params"].as_array());
        match (a, c) {
            (Some(a), Some(c)) => {
                assert_eq!(a.len(), c.len());
                for (x, y) in a.iter().zip(c) {
                    assert_eq!(bits(x, f32), bits(y, f32), "{req}: params at {i}");
                }
            }
            (None, None) => {}
            _ => panic!("{req}: params kept by one side only at {i}"),
        }
    }
    assert_eq!(
        api["stopped"].is_string(),
        diverged,
        "{req}: {}",
        api["stopped"]
    );
    if let Some(s) = &summary {
        assert_eq!(&timeless(api["summary"].clone()), s, "{req}");
    }

    // The stream is the CLI's output line for line, as text.
    let (status, text) = server.request("POST", "/api/run/stream", req.to_string().as_bytes());
    assert_eq!(status, 200, "{req}: {text}");
    let streamed: Vec<&str> = text.lines().collect();
    let printed: Vec<&str> = cli.lines().collect();
    assert_eq!(streamed[..records.len()], printed[..records.len()], "{req}");
    let last: Value = serde_json::from_str(streamed.last().unwrap()).unwrap();
    if let Some(s) = summary {
        assert_eq!(timeless(last["summary"].clone()), s, "{req}");
        assert_eq!(streamed.len(), printed.len(), "{req}");
    } else {
        assert!(
            streamed.iter().any(|l| l.starts_with("{\"stopped\"")),
            "{req}"
        );
    }
}

/// The entry called `name` of a catalog list.
fn named<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == name)
        .unwrap_or_else(|| panic!("{name} is listed"))
}

#[test]
fn catalog_lists_every_problem_optimizer_and_schedule() {
    let server = Server::start(&[]);
    let (status, text) = server.request("GET", "/api/catalog", b"");
    assert_eq!(status, 200);
    let c: Value = serde_json::from_str(&text).unwrap();
    let names = |key: &str| -> Vec<String> {
        c[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap().to_string())
            .collect()
    };
    let problems: Vec<&str> = gradus_problems::PROBLEMS
        .iter()
        .map(|p| p.0)
        .filter(|&n| n != "linreg")
        .collect();
    assert_eq!(names("problems"), problems);
    let optimizers: Vec<&str> = gradus::catalog::optimizers()
        .iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names("optimizers"), optimizers);
    let schedules: Vec<&str> = gradus::catalog::schedules()
        .iter()
        .map(|a| a.name)
        .collect();
    assert_eq!(names("schedules"), schedules);

    let problem = |n: &str| named(&c["problems"], n).clone();
    let beale = problem("beale");
    assert_eq!(beale["dim"], 2);
    assert_eq!(beale["kind"], "function");
    assert_eq!(beale["start"], json!([1.0, 1.5]));
    assert_eq!(beale["minimum"]["points"], json!([[3.0, 0.5]]));
    assert_eq!(beale["domain"], json!([-4.5, 4.5, -4.5, 4.5]));
    assert_eq!(problem("cosh")["domain"].as_array().unwrap().len(), 2);
    let boston = problem("boston");
    assert_eq!(boston["kind"], "data");
    assert_eq!(boston["dim"], 2);
    // Boston's box holds its start and its least-squares optimum.
    let d: Vec<f64> = boston["domain"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let m = &boston["minimum"]["points"][0];
    let (w, b) = (m[0].as_f64().unwrap(), m[1].as_f64().unwrap());
    assert!(
        d[0] < w && w < d[1] && d[2] < b && b < d[3],
        "{d:?} ∌ ({w}, {b})"
    );
    assert_eq!(problem("digits")["start"], Value::Null);

    let adam = named(&c["optimizers"], "adam");
    let lr = named(&adam["params"], "lr");
    assert_eq!(lr["default"], 0.001);
    assert_eq!(lr["log_scale"], true);
    assert_eq!(lr["min"], 0.0);
    assert_eq!(lr["range"], "a finite number >= 0");
    assert!(!lr["doc"].as_str().unwrap().is_empty());
    // The catalog is the core's table, as it is.
    let core = serde_json::to_value(gradus::catalog::optimizers()).unwrap();
    assert_eq!(c["optimizers"], core);
    let core = serde_json::to_value(gradus::catalog::schedules()).unwrap();
    assert_eq!(c["schedules"], core);
    let step = named(&c["schedules"], "step");
    assert_eq!(named(&step["params"], "step_size")["kind"], "int");
    let betas = named(&adam["params"], "betas");
    assert_eq!(betas["default"], json!([0.9, 0.999]));
}

#[test]
fn api_run_equals_gradus_run_for_every_optimizer() {
    let server = Server::start(&[]);
    for a in gradus::catalog::optimizers() {
        let name = a.name;
        for problem in ["beale", "quadratic", "cosh", "boston"] {
            // Muon steps matrices only (none here): through partition, as users run it.
            let spec = match name {
                "muon" => "partition(matrices=muon, rest=adamw)",
                other => other,
            };
            let mut req = json!({ "problem": problem, "optimizer": spec, "steps": 25 });
            // Closure optimizers (newton, lbfgs) take the full batch.
            if problem == "boston" && a.kind != "closure" {
                req["batch_size"] = json!(32);
                req["seed"] = json!(3);
            }
            assert_same_as_cli(&server, &req);
        }
    }
}

#[test]
fn api_run_equals_gradus_run_with_schedules_noise_and_f32() {
    let server = Server::start(&[]);
    let cases = [
        json!({"problem": "bowl", "optimizer": "sgd(lr=0.1)", "schedule": "exp_decay(lam=0.1)",
               "noise": 1.0, "seed": 7, "steps": 100, "start": [-5.0, -5.0]}),
        json!({"problem": "rosenbrock", "optimizer": "adam(lr=0.05, betas=(0.8, 0.99))",
               "dim": 3, "steps": 40, "dtype": "f32"}),
        json!({"problem": "parabola", "optimizer": "sgd(lr=1.05)", "steps": 30}),
        json!({"problem": "beale", "optimizer": "rmsprop(lr=0.01, momentum=0.9)",
               "schedule": "cosine_annealing(t_max=50)", "steps": 60, "start": [-1.0, 2.5]}),
        json!({"problem": "digits-softmax", "optimizer": "adam(lr=0.01)", "batch_size": 64,
               "steps": 10}),
        // Diverges: records up to the last finite one, then `stopped`.
        json!({"problem": "beale", "optimizer": "sgd(lr=5)", "steps": 50}),
    ];
    for req in &cases {
        assert_same_as_cli(&server, req);
    }
}

#[test]
fn batch_of_runs_answers_each_in_order() {
    let server = Server::start(&[]);
    let runs: Vec<Value> = ["sgd(lr=0.01)", "adam(lr=0.1)", "lion(lr=0.01)"]
        .iter()
        .map(|o| json!({"problem": "beale", "optimizer": o, "steps": 20}))
        .collect();
    let (status, batch) = server.post("/api/run", &json!({ "runs": runs }));
    assert_eq!(status, 200, "{batch}");
    for (i, r) in runs.iter().enumerate() {
        let (_, one) = server.post("/api/run", r);
        assert_eq!(batch["runs"][i]["loss"], one["loss"]);
        assert_eq!(batch["runs"][i]["params"], one["params"]);
    }
}

#[test]
fn data_problems_report_test_loss_and_accuracy_every_eval_step() {
    let server = Server::start(&[]);
    let req = json!({"problem": "digits", "optimizer": "adam(lr=0.01)", "hidden": 8,
                     "batch_size": 32, "steps": 20, "every": 5, "eval_every": 10});
    let (status, r) = server.post("/api/run", &req);
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["steps"], json!([0, 5, 10, 15, 20]));
    assert_eq!(
        r["params"],
        Value::Null,
        "digits has more than 100 parameters"
    );
    let evals = r["eval"].as_array().unwrap();
    let steps: Vec<u64> = evals.iter().map(|e| e["step"].as_u64().unwrap()).collect();
    assert_eq!(steps, [0, 10, 20]);
    let acc = evals[2]["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    assert_eq!(evals[2]["test_accuracy"], r["summary"]["test_accuracy"]);

    let (status, text) = server.request("POST", "/api/run/stream", req.to_string().as_bytes());
    assert_eq!(status, 200);
    let evals: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("{\"eval\""))
        .collect();
    assert_eq!(evals.len(), 3, "{text}");
}

#[test]
fn surface_is_the_loss_on_the_grid() {
    let server = Server::start(&[]);
    let (status, text) = server.request(
        "GET",
        "/api/surface?problem=booth&xmin=0&xmax=2&ymin=1&ymax=3&n=3",
        b"",
    );
    assert_eq!(status, 200, "{text}");
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["x"], json!([0.0, 1.0, 2.0]));
    assert_eq!(s["y"], json!([1.0, 2.0, 3.0]));
    // Booth (x + 2y − 7)² + (2x + y − 5)²: 0 at (1, 3); at (0, 1): 25 + 16.
    assert_eq!(s["values"][2][1], 0.0);
    assert_eq!(s["values"][0][0], 41.0);
    let (status, text) = server.request("GET", "/api/surface?problem=cosh&xmin=0&xmax=2&n=2", b"");
    assert_eq!(status, 200, "{text}");
    let s: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(s["values"][0], 1.0);
}

/// Status 4xx and an `{"error"}` containing `culprit`.
fn expect_error(status: u16, body: &str, culprit: &str) {
    assert!((400..500).contains(&status), "status {status}: {body}");
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON error: {body}"));
    let msg = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in {body}"));
    assert!(msg.contains(culprit), "'{culprit}' not in '{msg}'");
}

#[test]
fn bad_requests_are_answered_4xx_with_a_message() {
    let server = Server::start(&[]);
    let post = |body: &[u8]| server.request("POST", "/api/run", body);
    let run = |v: Value| post(v.to_string().as_bytes());
    let cases: Vec<((u16, String), &str)> = vec![
        (post(b"{\"problem\": "), "not a valid run request"),
        (post(b"not json"), "not a valid run request"),
        (run(json!({"problem": "beale"})), "optimizer"),
        (
            run(json!({"problem": "beale", "optimizer": "adamm"})),
            "adamm",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "adam(lr=-1)"})),
            "lr",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "adam(betas=(0.9, 1.5))"})),
            "betas",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "sgd(lr=0.1)", "steps": 100001})),
            "at most 100000",
        ),
        (
            run(json!({"problem": "nowhere", "optimizer": "sgd"})),
            "nowhere",
        ),
        (
            run(json!({"problem": "linreg", "optimizer": "sgd"})),
            "linreg",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "sgd", "start": [1.0]})),
            "--start",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "sgd", "colour": 3})),
            "colour",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "sgd", "dtype": "f16"})),
            "f16",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "sgd", "schedule": "warp(k=1)"})),
            "warp",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "sgd", "noise": -1.0})),
            "noise",
        ),
        (
            run(json!({"problem": "rosenbrock", "optimizer": "sgd", "dim": 5000})),
            "dim",
        ),
        (
            run(json!({"problem": "beale", "optimizer": "newton", "noise": 1.0})),
            "newton",
        ),
        (run(json!({"runs": []})), "1 to 16"),
        (
            run(json!({"runs": vec![json!({"problem": "beale", "optimizer": "sgd"}); 17]})),
            "1 to 16",
        ),
        (
            run(
                json!({"runs": [{"problem": "beale", "optimizer": "sgd"}, {"problem": "beale", "optimizer": "x"}]}),
            ),
            "run 1",
        ),
        (post(&vec![b' '; 2 << 20]), "too large"),
        (
            server.request("POST", "/api/run/stream", b"[1, 2]"),
            "not a valid run request",
        ),
        (
            server.request(
                "GET",
                "/api/surface?problem=beale&xmin=0&xmax=1&ymin=0&ymax=1&n=5000",
                b"",
            ),
            "n 5000",
        ),
        (
            server.request(
                "GET",
                "/api/surface?problem=beale&xmin=1&xmax=0&ymin=0&ymax=1",
                b"",
            ),
            "xmin",
        ),
        (
            server.request("GET", "/api/surface?problem=beale&xmin=0", b""),
            "xmax",
        ),
        (
            server.request(
                "GET",
                "/api/surface?problem=digits&xmin=0&xmax=1&ymin=0&ymax=1",
                b"",
            ),
            "parameters",
        ),
        (server.request("GET", "/api/nothing", b""), "no such page"),
        (
            server.request_as("evil.example:80", "GET", "/api/catalog", b""),
            "evil.example",
        ),
        (
            server.request_as(&format!("rebound.example:{}", server.port), "GET", "/", b""),
            "rebound.example",
        ),
    ];
    for ((status, body), culprit) in cases {
        expect_error(status, &body, culprit);
    }
    // The served names are accepted.
    let (status, _) = server.request_as(&format!("localhost:{}", server.port), "GET", "/", b"");
    assert_eq!(status, 200);
}

#[test]
fn a_run_past_its_time_budget_is_stopped_with_an_error() {
    // A zero budget is spent before the first step, whatever the machine's speed.
    let server = Server::start(&["--time-limit", "0"]);
    let req = json!({"problem": "beale", "optimizer": "adam", "steps": 1000});
    let (status, body) = server.request("POST", "/api/run", req.to_string().as_bytes());
    expect_error(status, &body, "time budget");
    let (status, text) = server.request("POST", "/api/run/stream", req.to_string().as_bytes());
    assert_eq!(
        status, 200,
        "the stream has started when the budget runs out"
    );
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert!(
        last["error"].as_str().unwrap().contains("time budget"),
        "{text}"
    );
}

#[test]
fn the_page_and_its_assets_are_served() {
    let server = Server::start(&[]);
    for (path, needle) in [
        ("/", "<canvas"),
        ("/app.js", "/api/catalog"),
        ("/style.css", "{"),
    ] {
        let (status, body) = server.request("GET", path, b"");
        assert_eq!(status, 200, "{path}");
        assert!(body.contains(needle), "{path} lacks {needle}");
    }
}

#[test]
fn a_long_run_does_not_block_other_requests() {
    let server = Server::start(&["--time-limit", "600"]);
    // A streamed run of minutes, held open: its first lines arrive, then it waits on us.
    let mut long = TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    let body =
        json!({"problem": "digits", "optimizer": "sgd", "hidden": 8, "steps": 100000}).to_string();
    write!(
        long,
        "POST /api/run/stream HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n\r\n{body}",
        server.host(),
        body.len()
    )
    .unwrap();
    let mut first = [0u8; 512];
    let n = long.read(&mut first).unwrap();
    assert!(String::from_utf8_lossy(&first[..n]).contains("200 OK"));
    // Meanwhile the other endpoints answer.
    let (status, _) = server.request("GET", "/api/catalog", b"");
    assert_eq!(status, 200);
    let (status, r) = server.post(
        "/api/run",
        &json!({"problem": "beale", "optimizer": "adam", "steps": 10}),
    );
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["steps"].as_array().unwrap().len(), 11);
    drop(long);
}
