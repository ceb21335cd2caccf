//! `gradus serve`: the optimizer playground, a single-page app and the JSON API it uses.
//!
//! The page (`web/`) is compiled into the binary. The API runs the same [`Runner`] as
//! `gradus run`, so `/api/run` answers with the numbers `gradus run --format jsonl`
//! prints. Every request is bounded (steps, runs, grid, body size, wall time) and the
//! Host header must name the served host, so a web page elsewhere cannot reach the
//! server through DNS rebinding.
//!
//! [`Runner`]: crate::runner::Runner

mod api;
mod catalog;
mod limits;

use crate::cli_error::CliError;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

pub use limits::Limits;

/// Arguments of `gradus serve`.
#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// TCP port (0: any free port; the first line printed says which).
    #[arg(long, default_value_t = 8321)]
    pub port: u16,
    /// Address to listen on. The default serves this machine only; another address
    /// exposes the playground (and its CPU time) to the network.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Open the page in the default browser.
    #[arg(long)]
    pub open: bool,
    /// Wall-clock budget of one request in seconds; a run past it is stopped with an
    /// error. A streamed run (`/api/run/stream`, the page's data problems) gets six times
    /// as long.
    #[arg(long, value_name = "SECONDS", default_value_t = 10.0)]
    pub time_limit: f64,
    /// A further host name the Host header may carry (e.g. the name of this machine when
    /// serving with --host 0.0.0.0). Repeat for several.
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
}

/// What every handler can read.
pub(crate) struct AppState {
    limits: Limits,
    /// The Host header values accepted (lower case, with the port).
    hosts: Vec<String>,
    /// Bounds the runs computing at once, so a burst of requests queues instead of
    /// starting hundreds of threads.
    runs: Arc<tokio::sync::Semaphore>,
    catalog: serde_json::Value,
}

/// Entry point of `gradus serve`.
pub fn main(args: ServeArgs) -> Result<(), CliError> {
    if !(args.time_limit.is_finite() && args.time_limit >= 0.0 && args.time_limit <= 3600.0) {
        return Err(CliError::usage(format!(
            "--time-limit {} is invalid: expected seconds in [0, 3600]",
            args.time_limit
        )));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::io("starting the server's runtime", e))?;
    runtime.block_on(serve(args))
}

async fn serve(args: ServeArgs) -> Result<(), CliError> {
    let addr = SocketAddr::new(args.host, args.port);
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| CliError::io(format!("listening on {addr}"), e))?;
    let bound = listener
        .local_addr()
        .map_err(|e| CliError::io("reading the listening address", e))?;
    let limits = Limits {
        time_budget: Duration::from_secs_f64(args.time_limit),
        ..Limits::default()
    };
    let state = Arc::new(AppState {
        hosts: accepted_hosts(&args, bound.port()),
        runs: Arc::new(tokio::sync::Semaphore::new(limits.concurrent_runs)),
        catalog: catalog::catalog(),
        limits,
    });
    let url = format!("http://{}/", display_addr(bound));
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "gradus playground: {url}")
            .and_then(|_| out.flush())
            .map_err(|e| CliError::io("writing to stdout", e))?;
    }
    if args.open {
        open_browser(&url);
    }
    axum::serve(listener, router(state))
        .await
        .map_err(|e| CliError::io("serving", e))
}

/// The routes, the Host check and the body limit.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/style.css", get(style))
        .route("/api/catalog", get(api::catalog))
        .route("/api/run", post(api::run))
        .route("/api/run/stream", post(api::run_stream))
        .route("/api/surface", get(api::surface))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(state.limits.body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), check_host))
        .with_state(state)
}

/// `host:port` as a URL writes it (IPv6 in brackets; an unspecified address as loopback,
/// which is where a browser on this machine reaches it).
fn display_addr(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v) if v.is_unspecified() => IpAddr::V4(std::net::Ipv4Addr::LOCALHOST),
        IpAddr::V6(v) if v.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port()).to_string()
}

/// The Host values a browser sends for this server: its address, `localhost` when it
/// serves loopback (or every address), and the names given with --allow-host.
fn accepted_hosts(args: &ServeArgs, port: u16) -> Vec<String> {
    let ip = args.host;
    let mut names: Vec<String> = vec![SocketAddr::new(ip, port).to_string()];
    if ip.is_loopback() || ip.is_unspecified() {
        names.push(format!("localhost:{port}"));
        names.push(format!("127.0.0.1:{port}"));
        names.push(format!("[::1]:{port}"));
    }
    for h in &args.allow_host {
        names.push(format!("{}:{port}", h.to_ascii_lowercase()));
    }
    names
}

/// Refuses requests whose Host header is not one this server answers to: a page on
/// another site that rebinds its name to 127.0.0.1 still sends its own name.
async fn check_host(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_ascii_lowercase);
    match host {
        Some(h) if state.hosts.contains(&h) => next.run(req).await,
        Some(h) => api::error(
            StatusCode::FORBIDDEN,
            format!(
                "Host '{h}' is not served here (expected {}); to serve another name, start \
                 gradus serve with --allow-host NAME",
                state.hosts[0]
            ),
        ),
        None => api::error(StatusCode::BAD_REQUEST, "the request has no Host header"),
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset(
        "text/html; charset=utf-8",
        include_str!("../../web/index.html"),
    )
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../../web/app.js"),
    )
}

async fn style() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../../web/style.css"),
    )
}

async fn not_found() -> Response {
    api::error(StatusCode::NOT_FOUND, "no such page or API endpoint")
}

/// Best effort: the URL was printed, so a failure only says so.
fn open_browser(url: &str) {
    let opener = if cfg!(target_os = "macos") {
        "open"
    } else if cfg!(target_os = "windows") {
        "explorer"
    } else {
        "xdg-open"
    };
    if let Err(e) = std::process::Command::new(opener)
        .arg(url)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("note: could not open a browser with {opener} ({e}); open {url} yourself");
    }
}
