//! `tapedeck config`: the effective settings, each with where it comes from (the built-in
//! default, a line of the configuration file, or a flag or environment variable).

use std::io::Write;

use anyhow::Result;
use serde_json::{Value, json};

use super::output::escape;
use super::{Settings, Source};
use crate::config::{Action, Bindings, Bound, Config, Setting, UiAction};

/// One row: the key, its value (JSON; `null` where a built-in behaviour applies), the text
/// shown for it, and the line of the configuration file that set it (`None`: the default).
struct Row {
    key: String,
    value: Value,
    text: String,
    line: Option<usize>,
}

fn row<T: Clone>(
    key: &str,
    set: &Option<Setting<T>>,
    default: Value,
    default_text: &str,
    show: impl Fn(&T) -> (Value, String),
) -> Row {
    match set {
        Some(s) => {
            let (value, text) = show(&s.value);
            Row {
                key: key.into(),
                value,
                text,
                line: Some(s.line),
            }
        }
        None => Row {
            key: key.into(),
            value: default,
            text: default_text.into(),
            line: None,
        },
    }
}

fn text(s: &String) -> (Value, String) {
    (json!(s), s.clone())
}

fn rows(ctx: &Settings) -> Vec<Row> {
    let c = &ctx.config;
    let mut rows = vec![
        row(
            "list.format",
            &c.list_format,
            Value::Null,
            "(built in: artist - album - title)",
            text,
        ),
        row(
            "list.album_format",
            &c.album_format,
            Value::Null,
            "(built in: albumartist - album (year): N tracks, h:mm:ss)",
            text,
        ),
        row("list.sort", &c.sort, Value::Null, "(album order)", text),
        row(
            "play.replaygain",
            &c.replaygain,
            json!("auto"),
            "auto",
            |m| {
                let name = format!("{m:?}").to_lowercase();
                (json!(name), name)
            },
        ),
        row("play.preamp", &c.preamp, json!(0.0), "0", |v| {
            (json!(v), v.to_string())
        }),
        row(
            "play.fallback_gain",
            &c.fallback_gain,
            json!(0.0),
            "0",
            |v| (json!(v), v.to_string()),
        ),
        row("play.volume", &c.volume, json!(100), "100", |v| {
            (json!(v), v.to_string())
        }),
        row(
            "play.device",
            &c.device,
            Value::Null,
            "(the system's default)",
            text,
        ),
        row(
            "gain.prefer_computed",
            &c.prefer_computed,
            json!(false),
            "false",
            |v| (json!(v), v.to_string()),
        ),
        row("export.profile", &c.profile, json!("car"), "car", text),
        row(
            "convert.format",
            &c.convert_format,
            Value::Null,
            "(none: --format is needed)",
            |f| (json!(f.name()), f.name().to_string()),
        ),
        row(
            "convert.bitrate",
            &c.bitrate,
            Value::Null,
            "(the format's: mp3 320, aac 256)",
            |v| (json!(v), v.to_string()),
        ),
        row(
            "convert.template",
            &c.template,
            json!(crate::names::DEFAULT_TEMPLATE),
            crate::names::DEFAULT_TEMPLATE,
            text,
        ),
    ];
    binding_rows::<Action>(c, &mut rows);
    binding_rows::<UiAction>(c, &mut rows);
    rows
}

/// One row per action of `A`'s table, with its keys.
fn binding_rows<A: Bound>(c: &Config, rows: &mut Vec<Row>) {
    let bindings = Bindings::<A>::new(c);
    for &action in A::ALL {
        let keys = bindings.keys(action);
        let line = A::configured(c)
            .iter()
            .find(|(a, _)| *a == action)
            .map(|(_, s)| s.line);
        rows.push(Row {
            key: format!("{}.{}", A::TABLE, action.name()),
            value: json!(keys),
            text: if keys.is_empty() {
                "(none)".into()
            } else {
                keys.join(" ")
            },
            line,
        });
    }
}

fn source_name(s: Source) -> &'static str {
    match s {
        Source::Default => "default",
        Source::Flag => "flag",
        Source::Env => "env",
    }
}

pub fn show(ctx: &Settings, json: bool, out: &mut dyn Write) -> Result<()> {
    let file = ctx.config_path.as_deref();
    let exists = file.is_some_and(|p| p.is_file());
    let config_source = if std::env::var_os("TAPEDECK_CONFIG").is_some_and(|v| !v.is_empty()) {
        Source::Env
    } else {
        Source::Default
    };
    let rows = rows(ctx);
    if json {
        let mut settings = serde_json::Map::new();
        for r in &rows {
            let mut v = json!({ "value": r.value, "source": "default" });
            if let (Some(line), Some(path)) = (r.line, file) {
                v["source"] = json!("file");
                v["file"] = json!(path.to_string_lossy());
                v["line"] = json!(line);
            }
            settings.insert(r.key.clone(), v);
        }
        let v = json!({
            "config_file": {
                "path": file.map(|p| p.to_string_lossy()),
                "exists": exists,
                "source": source_name(config_source),
            },
            "db": {
                "path": ctx.db_path.to_string_lossy(),
                "source": source_name(ctx.db_source),
            },
            "settings": settings,
        });
        serde_json::to_writer(&mut *out, &v)?;
        writeln!(out)?;
        return Ok(());
    }
    let file_text = match file {
        Some(p) if exists => super::output::escape_path(p).into_owned(),
        Some(p) => format!("{} (absent: defaults)", super::output::escape_path(p)),
        None => "(no configuration folder: defaults)".into(),
    };
    let width = rows.iter().map(|r| r.key.len()).max().unwrap_or(0).max(11);
    writeln!(
        out,
        "{:<width$}  {file_text}  [{}]",
        "config file",
        match config_source {
            Source::Env => "TAPEDECK_CONFIG",
            _ => "default",
        }
    )?;
    writeln!(
        out,
        "{:<width$}  {}  [{}]",
        "db",
        super::output::escape_path(&ctx.db_path),
        match ctx.db_source {
            Source::Env => "TAPEDECK_DB",
            Source::Flag => "--db",
            Source::Default => "default",
        }
    )?;
    for r in &rows {
        let origin = match r.line {
            Some(line) => format!(
                "{}:{line}",
                file.map(|p| super::output::escape_path(p).into_owned())
                    .unwrap_or_default()
            ),
            None => "default".into(),
        };
        writeln!(out, "{:<width$}  {}  [{origin}]", r.key, escape(&r.text))?;
    }
    Ok(())
}
