//! `tapedeck ui`: the settings, then the full-screen UI (`crate::ui`) on the library's player.
//! When a `tapedeck serve` answers on the library's socket the UI attaches to it, and quitting
//! leaves the music playing; otherwise the UI starts the service itself, as `serve` would (the
//! socket, MPRIS, the remembered queue), so remote commands and media keys reach it too, and
//! the music stops when it quits.

use std::io::IsTerminal;

use anyhow::{Context, Result};

use super::Settings;
use super::serve::{self, PlayerArgs, ServeArgs};
use crate::db::Library;
use crate::error::UsageError;
use crate::mpd::client::ClientError;
use crate::ui::app::App;
use crate::ui::deck::{Deck, DeckError};

#[derive(Debug, Clone, clap::Args)]
pub struct UiArgs {
    /// How the UI's own service plays, when no service is running
    #[command(flatten)]
    pub player: PlayerArgs,
}

pub fn ui(ctx: &Settings, args: &UiArgs) -> Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(UsageError(
            "`tapedeck ui` needs a terminal; `tapedeck status` and `tapedeck queue list` print \
             the player's state for scripts"
                .into(),
        )
        .into());
    }
    let socket = serve::socket_path(ctx);
    let (deck, running) = match Deck::remote(&socket) {
        Ok(deck) => (deck, None),
        Err(DeckError::Client(ClientError::NotRunning(_))) => {
            let serve_args = ServeArgs {
                socket: None,
                bind: None,
                password: None,
                player: args.player.clone(),
            };
            let running = serve::start(ctx, &serve_args)?;
            let deck = Deck::local(running.player.clone(), super::play::prefer_computed(ctx));
            (deck, Some(running))
        }
        Err(e) => return Err(e.into()),
    };
    // The browser reads through its own read-only connection (made above when missing).
    if running.is_none() && std::fs::metadata(&ctx.db_path).is_err() {
        return Err(anyhow::anyhow!(
            "there is no library at {}: `tapedeck scan FOLDER` makes one",
            ctx.db_path.display()
        ));
    }
    let result = (|| -> Result<()> {
        let lib = Library::open_read_only(&ctx.db_path)
            .with_context(|| format!("cannot read the library {}", ctx.db_path.display()))?;
        let app = App::new(lib, ctx.db_path.clone(), deck, &ctx.config);
        crate::ui::run(app, super::interrupt::flag()).context("the terminal failed")?;
        Ok(())
    })();
    // The UI's own service ends with it (saving what it played); an attached one goes on.
    if let Some(r) = running {
        r.stop();
    }
    result
}
