//! `tapedeck serve`: resolves the settings, takes the library's service lock (one service per
//! library), starts the player service on the remembered queue, and listens for MPD clients on
//! a Unix socket (and on TCP when asked) until Ctrl-C or SIGTERM ([`start`], which the UI uses
//! too).
//! Also where the socket of a library is (`socket_path`), for the remote commands.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};

use super::Settings;
use crate::audio::gain;
use crate::error::{BusyError, UsageError};
use crate::mpd::server::{self, Server};
use crate::service::{self, Initial, Service};
use crate::target::lock::LockFile;
use crate::target::runtime;

#[derive(Debug, Clone, clap::Args)]
pub struct ServeArgs {
    /// Listen on this Unix socket (the remote commands find it through TAPEDECK_SOCKET)
    /// [default: $XDG_RUNTIME_DIR/tapedeck/socket, socket-<hash> for a library named by --db]
    #[arg(long, env = "TAPEDECK_SOCKET", value_name = "PATH")]
    pub socket: Option<PathBuf>,
    /// Also listen on TCP: a port (on 127.0.0.1) or ADDRESS:PORT; anything but loopback only
    /// when named
    #[arg(long, value_name = "[ADDRESS:]PORT")]
    pub bind: Option<String>,
    /// TCP clients must send this password before anything else (MPD's `password`)
    #[arg(
        long,
        env = "TAPEDECK_PASSWORD",
        hide_env_values = true,
        value_name = "PASSWORD"
    )]
    pub password: Option<String>,
    #[command(flatten)]
    pub player: PlayerArgs,
}

/// How the service plays, for `serve` and for `ui` when it starts the service itself.
#[derive(Debug, Clone, clap::Args)]
pub struct PlayerArgs {
    /// Output device (see `tapedeck devices`) [default: the configuration's, else the
    /// system's]
    #[arg(long, value_name = "NAME")]
    pub device: Option<String>,
    /// Volume in percent [default: the remembered one, else the configuration's, else 100]
    #[arg(long, value_name = "PERCENT", value_parser = clap::value_parser!(u8).range(0..=100))]
    pub volume: Option<u8>,
    /// ReplayGain mode [default: the remembered one, else the configuration's, else auto]
    #[arg(long, value_enum)]
    pub replaygain: Option<gain::Mode>,
    /// Start with an empty queue instead of the remembered one
    #[arg(long)]
    pub fresh: bool,
}

/// The socket the service of a library listens on: `TAPEDECK_SOCKET` when set, else `socket`
/// for the default library and `socket-<hash of the library's path>` for another.
pub fn socket_path(ctx: &Settings) -> PathBuf {
    if let Some(path) = std::env::var_os("TAPEDECK_SOCKET").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    let folder = runtime::default_folder();
    let default = super::default_db_path().ok();
    if default.as_deref() == Some(ctx.db_path.as_path()) {
        folder.join("socket")
    } else {
        let hash = xxhash_rust::xxh3::xxh3_64(ctx.db_path.as_os_str().as_encoded_bytes());
        folder.join(format!("socket-{hash:016x}"))
    }
}

/// `[ADDRESS:]PORT`: a port alone is on loopback.
fn parse_bind(text: &str) -> Result<SocketAddr> {
    if let Ok(port) = text.parse::<u16>() {
        return Ok(SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port));
    }
    let text = text
        .strip_prefix("localhost:")
        .map_or_else(|| text.to_string(), |port| format!("127.0.0.1:{port}"));
    text.parse::<SocketAddr>().map_err(|_| {
        UsageError(format!(
            "--bind {text}: use a port (6600) or an address and port (127.0.0.1:6600)"
        ))
        .into()
    })
}

/// A running service: the player, its protocol server on the socket (and TCP), MPRIS, and the
/// library's service lock, held until [`Running::stop`].
pub struct Running {
    pub player: Service,
    server: Arc<Server>,
    pub socket: PathBuf,
    mpris: Option<service::mpris::Mpris>,
    _lock: LockFile,
}

impl Running {
    /// Stops listening, ends the player (saving what it plays) and removes the socket.
    pub fn stop(self) {
        self.server.stopping.store(true, Ordering::Release);
        drop(self.mpris);
        self.player.shutdown();
        runtime::remove_socket(&self.socket);
    }
}

/// Starts the player service of the library as `serve` runs it (`tapedeck ui` runs it too when
/// no service is running).
pub fn start(ctx: &Settings, args: &ServeArgs) -> Result<Running> {
    let tcp_addr = args.bind.as_deref().map(parse_bind).transpose()?;
    // Opened first: a first run makes the library (and its folder) the lock lives beside.
    let lib = ctx.open_library()?;
    let Some(lock) = LockFile::try_acquire(&ctx.db_path, "serve-lock")
        .with_context(|| format!("cannot lock {}", ctx.db_path.display()))?
    else {
        return Err(BusyError(format!(
            "another `tapedeck serve` is running on the library {}",
            ctx.db_path.display()
        ))
        .into());
    };
    let prefer_computed = super::play::prefer_computed(ctx);
    let mut gain = super::play::gain_settings(&ctx.config);
    let player_args = &args.player;
    let mut volume = player_args
        .volume
        .or(ctx.config.volume.as_ref().map(|s| s.value))
        .unwrap_or(100);
    let mut initial = Initial::default();
    if !player_args.fresh {
        match service::resume::load(&lib, prefer_computed) {
            Ok(r) => {
                for (path, why) in &r.left_out {
                    super::style::warn(format_args!(
                        "{} {why}; left out of the queue",
                        super::output::escape_path(path)
                    ));
                }
                if let Some(mode) = r.replaygain {
                    gain.mode = mode;
                }
                if let (None, Some(v)) = (player_args.volume, r.volume) {
                    volume = v;
                }
                initial = Initial {
                    items: r.items,
                    order: Some(r.order),
                    cursor: r.cursor,
                    position: r.position,
                    shuffle: r.shuffle,
                    repeat: r.repeat,
                    single: r.single,
                    consume: r.consume,
                };
            }
            Err(service::resume::ResumeError::Nothing | service::resume::ResumeError::Gone) => {}
            Err(e) => super::style::warn(format_args!("{e}; starting with an empty queue")),
        }
    }
    if let Some(mode) = player_args.replaygain {
        gain.mode = mode;
    }
    let device = player_args
        .device
        .clone()
        .or(ctx.config.device.as_ref().map(|s| s.value.clone()));
    let factory = super::play::device_factory(device.as_deref())?;
    let socket = args.socket.clone().unwrap_or_else(|| socket_path(ctx));
    if args.socket.is_none() {
        runtime::private_folder(&runtime::default_folder())?;
    }
    let unix = runtime::bind_socket(&socket).map_err(|e| match e {
        crate::target::Error::Busy { .. } => anyhow::Error::from(BusyError(format!(
            "a player service already answers on {}",
            socket.display()
        ))),
        e => e.into(),
    })?;
    let tcp = match tcp_addr {
        Some(addr) => {
            if !addr.ip().is_loopback() && args.password.is_none() {
                super::style::warn(format_args!(
                    "listening on {addr} without a password: anyone who can reach it controls \
                     the player"
                ));
            }
            Some(TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?)
        }
        None => None,
    };
    let settings = service::Settings {
        gain,
        volume,
        prefer_computed,
        output: factory,
        seed: super::play::seed(),
    };
    let player = Service::start(lib, settings, initial);
    let server = Server::new(
        player.clone(),
        ctx.db_path.clone(),
        args.password.clone(),
        prefer_computed,
    );
    server::listen(server.clone(), unix, tcp);
    // Media keys and desktop players, when a session bus exists.
    let mpris = service::mpris::publish(&player);
    Ok(Running {
        player,
        server,
        socket,
        mpris,
        _lock: lock,
    })
}

pub fn serve(ctx: &Settings, args: &ServeArgs) -> Result<()> {
    let tcp_addr = args.bind.as_deref().map(parse_bind).transpose()?;
    let running = start(ctx, args)?;
    if !ctx.quiet {
        let tcp_note = tcp_addr.map_or(String::new(), |a| format!(" and {a}"));
        super::style::note(format_args!(
            "listening on {}{tcp_note}; Ctrl-C stops",
            running.socket.display()
        ));
    }
    let interrupted = super::interrupt::flag();
    while !interrupted.load(Ordering::Acquire) {
        std::thread::sleep(Duration::from_millis(100));
    }
    running.stop();
    Ok(())
}
