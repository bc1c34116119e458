//! Integrity: what decoding a file found wrong with it, made into a verdict a person can act
//! on ("3 undecodable packets, the first at 2:31"). Pure: the decoder counts, this names.

use crate::audio::decode::Damage;

/// `m:ss` (or `h:mm:ss`) of a frame position.
pub fn clock(frame: u64, rate: u32) -> String {
    let s = frame / u64::from(rate.max(1));
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn plural(n: u64, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}

/// Why the audio is damaged, or `None` when decoding found nothing wrong. `stopped` is the
/// error that ended decoding early, with the frame it ended at.
pub fn verdict(d: &Damage, stopped: Option<(&str, u64)>, rate: u32) -> Option<String> {
    let mut reasons = Vec::new();
    if let Some((why, at)) = stopped {
        reasons.push(format!("decoding stopped at {}: {why}", clock(at, rate)));
    }
    if d.bad_packets > 0 {
        let at = d
            .first_bad_at
            .map(|f| format!(", the first at {}", clock(f, rate)))
            .unwrap_or_default();
        reasons.push(format!(
            "{}{at}",
            plural(
                u64::from(d.bad_packets),
                "undecodable packet",
                "undecodable packets"
            )
        ));
    }
    if d.lost_frames > 0 {
        let at = d
            .first_lost_at
            .map(|f| format!(" at {}", clock(f, rate)))
            .unwrap_or_default();
        let secs = d.lost_frames as f64 / f64::from(rate.max(1));
        reasons.push(format!(
            "{secs:.2} s of audio missing{at} (corrupt frames dropped)"
        ));
    }
    if d.truncated {
        reasons.push("the file is cut short".into());
    }
    if d.short_frames > 0 {
        let secs = d.short_frames as f64 / f64::from(rate.max(1));
        reasons.push(format!(
            "{secs:.2} s of audio fewer than the header promises (frames lost, or the file cut \
             short)"
        ));
    }
    if d.checksum_ok == Some(false) {
        reasons.push("the decoded audio does not match the MD5 checksum in STREAMINFO".into());
    }
    (!reasons.is_empty()).then(|| reasons.join("; "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_name_what_and_where() {
        let clean = Damage {
            checksum_ok: Some(true),
            ..Damage::default()
        };
        type Case<'a> = (Damage, Option<(&'a str, u64)>, Option<&'a str>);
        let cases: Vec<Case> = vec![
            (clean.clone(), None, None),
            (Damage::default(), None, None),
            (
                Damage {
                    bad_packets: 3,
                    first_bad_at: Some(151 * 44_100),
                    ..Damage::default()
                },
                None,
                Some("3 undecodable packets, the first at 2:31"),
            ),
            (
                Damage {
                    lost_frames: 4608,
                    first_lost_at: Some(44_100 * 61),
                    ..Damage::default()
                },
                None,
                Some("0.10 s of audio missing at 1:01 (corrupt frames dropped)"),
            ),
            (
                Damage {
                    truncated: true,
                    checksum_ok: Some(false),
                    ..Damage::default()
                },
                None,
                Some(
                    "the file is cut short; the decoded audio does not match the MD5 checksum \
                     in STREAMINFO",
                ),
            ),
            (
                Damage {
                    short_frames: 22_050,
                    ..Damage::default()
                },
                None,
                Some(
                    "0.50 s of audio fewer than the header promises (frames lost, or the file \
                     cut short)",
                ),
            ),
            (
                Damage::default(),
                Some(("too much corrupt data", 44_100 * 3725)),
                Some("decoding stopped at 1:02:05: too much corrupt data"),
            ),
        ];
        for (d, stopped, want) in cases {
            assert_eq!(verdict(&d, stopped, 44_100).as_deref(), want, "{d:?}");
        }
    }
}
