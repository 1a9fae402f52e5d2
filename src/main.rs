//! `gatehouse` command line: serve, check-config, rotate-signing-key.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, Subcommand};

use gatehouse::clock::{SharedClock, SystemClock};
use gatehouse::config::{self, Config, ConfigError};

#[derive(Parser)]
#[command(name = "gatehouse", version, about = "Multi-tenant SSO gateway")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (the default).
    Serve(ConfigArg),
    /// Validate a configuration and explain every problem.
    CheckConfig(ConfigArg),
    /// Start signing sessions with a new key; the old one keeps verifying until its tokens expire.
    RotateSigningKey(ConfigArg),
    /// Try Gatehouse: a demo organisation and a built-in test IdP, on loopback only.
    Demo(DemoArg),
}

#[derive(clap::Args)]
struct DemoArg {
    /// Loopback address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: std::net::SocketAddr,
}

#[derive(clap::Args, Default)]
struct ConfigArg {
    /// TOML configuration file (default: ./gatehouse.toml when present).
    #[arg(long, short)]
    config: Option<PathBuf>,
}

fn init_tracing(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("GATEHOUSE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,actix_server=warn"));
    // Colour only on a terminal: log files and collectors get plain text.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stdout()));
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn load_config(arg: &ConfigArg) -> Result<Config, ConfigError> {
    config::load(arg.config.as_deref())
}

fn main() -> ExitCode {
    gatehouse::install_crypto_providers();
    gatehouse::warm_up_xml();
    let cli = Cli::parse();
    let command = cli.command.unwrap_or(Command::Serve(ConfigArg::default()));
    let result = match command {
        Command::CheckConfig(arg) => return check_config(&arg),
        Command::Serve(arg) => actix_web::rt::System::new().block_on(serve(arg)),
        Command::RotateSigningKey(arg) => actix_web::rt::System::new().block_on(rotate(arg)),
        Command::Demo(arg) => actix_web::rt::System::new().block_on(demo(arg)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gatehouse: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn check_config(arg: &ConfigArg) -> ExitCode {
    match load_config(arg) {
        Ok(cfg) => {
            println!("configuration is valid");
            println!("  listen:   {}", cfg.listen);
            println!("  base URL: {}", cfg.base_url);
            println!("  store:    {:?}", cfg.store);
            println!("  tenants declared: {}", cfg.tenants.len());
            if cfg.admin_token.is_none() {
                println!("  note: no admin_token, so the admin API (/api/v1) is closed");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("configuration is not valid: {e}");
            ExitCode::from(2)
        }
    }
}

async fn serve(arg: ConfigArg) -> anyhow::Result<()> {
    let cfg = load_config(&arg).map_err(|e| anyhow::anyhow!("configuration is not valid: {e}"))?;
    init_tracing(cfg.log_json);
    tracing::info!(
        listen = %cfg.listen,
        base_url = %cfg.base_url,
        store = ?cfg.store,
        tls = cfg.tls.is_some(),
        "starting gatehouse {}",
        env!("CARGO_PKG_VERSION")
    );
    if cfg.admin_token.is_none() {
        tracing::warn!(
            "no admin_token configured: the admin API (/api/v1) answers 401 to everyone"
        );
    }
    for var in config::unknown_env_vars() {
        tracing::warn!(%var, "ignoring an environment variable that is not a Gatehouse setting (typo?)");
    }
    let clock: SharedClock = Arc::new(SystemClock);
    let store = gatehouse::open_store(&cfg, clock.clone()).context("opening the store")?;
    let listener =
        TcpListener::bind(cfg.listen).with_context(|| format!("binding {}", cfg.listen))?;
    let state = gatehouse::build_state(cfg, store, clock)
        .await
        .context("preparing the gateway (is the store reachable?)")?;
    tracing::info!(address = %listener.local_addr()?, "listening");
    if let Some(link) =
        gatehouse::console::setup::ensure_link(&*state.store, &state.config.base_url).await?
    {
        // On stderr as well as in the log: this is the one thing the person starting the
        // gateway for the first time needs to see.
        eprintln!("\n  No operator account yet. Create it here (link valid 24 h, replaced at each start):\n  {link}\n");
        tracing::warn!("no operator account yet: open the setup link printed above");
    }
    gatehouse::serve(state, listener)?.await?;
    tracing::info!("stopped");
    Ok(())
}

async fn rotate(arg: ConfigArg) -> anyhow::Result<()> {
    let cfg = load_config(&arg).map_err(|e| anyhow::anyhow!("configuration is not valid: {e}"))?;
    init_tracing(cfg.log_json);
    let clock: SharedClock = Arc::new(SystemClock);
    let store = gatehouse::open_store(&cfg, clock.clone())?;
    let issuer = cfg.base_url.as_str().trim_end_matches('/').to_owned();
    let ring = gatehouse::session::jwt::KeyRing::load_or_create(&*store, &*clock, issuer).await?;
    let kid = ring.rotate(&*store, &*clock, cfg.session_lifetime).await?;
    println!("new signing key {kid} is active; running gateways switch to it at once");
    Ok(())
}

/// The demo: a throw-away embedded store, the demo organisation wired to the built-in IdP.
async fn demo(arg: DemoArg) -> anyhow::Result<()> {
    gatehouse::demo::check_loopback(arg.listen).map_err(|e| anyhow::anyhow!(e))?;
    init_tracing(false);
    let listener =
        TcpListener::bind(arg.listen).with_context(|| format!("binding {}", arg.listen))?;
    let address = listener.local_addr()?;
    let data_dir = std::env::temp_dir().join(format!("gatehouse-demo-{}", std::process::id()));
    let raw = config::RawConfig {
        listen: address.to_string(),
        base_url: Some(format!("http://{address}")),
        data_dir: data_dir.clone(),
        ..config::RawConfig::default()
    };
    let cfg = Config::try_from(raw).map_err(|e| anyhow::anyhow!("demo configuration: {e:?}"))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let store = gatehouse::open_store(&cfg, clock.clone()).context("opening the demo store")?;
    let state = gatehouse::build_state(cfg, store, clock)
        .await
        .context("preparing the demo")?;
    let idp = Arc::new(gatehouse::demo::idp::DemoIdp::new(&state.config.base_url)?);
    let accounts = gatehouse::demo::provision(&state, &idp).await?;
    let base = state
        .config
        .base_url
        .as_str()
        .trim_end_matches('/')
        .to_owned();
    println!(
        "\nGatehouse demo on {base} (data in {})\n\n  Sign in as a person:  {base}/login  → \"Log in with another provider\" → {domain} → any name @{domain}\n  Admin console:        {base}/admin  → {} / {}\n                        (Authentication › SAML → \"Test sign-in\" shows every check)\n\nPress Ctrl+C to stop.\n",
        data_dir.display(),
        accounts.admin_email,
        accounts.admin_password,
        domain = gatehouse::demo::DOMAIN,
    );
    let server = gatehouse::serve_with(state, listener, gatehouse::demo::routes::configure(idp))?;
    server.await?;
    let _ = std::fs::remove_dir_all(&data_dir);
    Ok(())
}
