use super::*;

const NOW: i64 = 1_750_000_000; // 2025-06-15

fn track() -> Track {
    Track {
        id: 7,
        path: "/music/Beyoncé/Lemonade/01 Pray You Catch Me.flac".into(),
        title: "Pray You Catch Me".into(),
        artist: Some("Beyoncé; Jay-Z".into()),
        artists: vec!["Beyoncé".into(), "Jay-Z".into()],
        album: Some("Lemonade".into()),
        albumartist: Some("Beyoncé".into()),
        track: Some(1),
        year: Some(2016),
        genre: Some("R&B".into()),
        duration: 196.4,
        bitrate: Some(920),
        sample_rate: Some(44100),
        format: "flac".into(),
        codec: "flac".into(),
        has_cover: true,
        added_at: NOW - 3 * 86_400,
        ..Track::default()
    }
}

/// Checks whether `terms` selects the sample track.
fn check(terms: &[&str], expected: bool) {
    let q = parse(terms, NOW).unwrap_or_else(|e| panic!("{terms:?}: {e}"));
    assert_eq!(q.matches(&track()), expected, "{terms:?}");
}

#[test]
fn text_matching() {
    let cases: &[(&[&str], bool)] = &[
        (&[], true),
        (&["beyonce"], true),
        (&["BEYONCÉ"], true),
        (&["lemon"], true),
        (&["Catch Me"], true),
        (&["catch", "lemonade"], true),
        (&["catch", "nope"], false),
        (&["artist:jay"], true),
        (&["artist:=Jay-Z"], true),
        (&["artist:=jay-z"], false),
        (&["artist:=~JAY-Z"], true),
        (&["artist:=~jay"], false),
        (&["artist::^Bey.*é$"], true),
        (&["title::^pray"], false),
        (&["title::(?i)^pray"], true),
        (&["composer:"], false),
        (&["^composer:"], true),
        (&["-composer:x"], true),
        (&["^artist:jay"], false),
        (&["genre:r&b"], true),
        (&["format:flac"], true),
        (&["path:lemonade/01"], true),
        (&["nope", ",", "lemonade"], true),
        (&["nope", ",", "other"], false),
        (&["Re:Stacks"], false),
        (&["year+", "lemonade"], true),
    ];
    for (terms, expected) in cases {
        check(terms, *expected);
    }
}

#[test]
fn ranges_dates_and_booleans() {
    let cases: &[(&[&str], bool)] = &[
        (&["year:2010..2019"], true),
        (&["year:..2015"], false),
        (&["year:2016"], true),
        (&["year:2017.."], false),
        (&["track:1"], true),
        (&["disc:1"], false),
        (&["^disc:1"], true),
        (&["length:3:16"], true),
        (&["length:..3:00"], false),
        (&["length:3:00..3:30"], true),
        (&["bitrate:900k.."], true),
        (&["bitrate:..192k"], false),
        (&["bitrate:..1000000"], true),
        (&["samplerate:44.1k"], true),
        (&["samplerate:96000"], false),
        (&["added:-1w.."], true),
        (&["added:-1d.."], false),
        (&["added:-1w"], true),
        (&["added:2025-06"], true),
        (&["added:2024-01..2024-06"], false),
        (&["played:-1y.."], false),
        (&["^played:-1y.."], true),
        (&["has:cover"], true),
        (&["cover:false"], false),
        (&["compilation:true"], false),
        (&["compilation:false"], true),
        (&["has:played"], false),
        (&["has:replaygain"], false),
    ];
    for (terms, expected) in cases {
        check(terms, *expected);
    }
}

#[test]
fn sort_terms_and_groups() {
    let q = parse(&["artist:x", "year+", "title-"], NOW).unwrap();
    assert_eq!(
        q.sort,
        vec![
            (Field::Year, Direction::Asc),
            (Field::Title, Direction::Desc)
        ]
    );
    assert_eq!(q.groups.len(), 1);
    let q = parse(&["a", ",", "b", "c"], NOW).unwrap();
    assert_eq!(
        q.groups.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![1, 2]
    );
    assert!(parse(&["year-"], NOW).unwrap().is_everything());
    let q = parse_str("'artist:The Beatles' year:1960..1969 year+", NOW).unwrap();
    assert_eq!(q.groups[0].len(), 2);
    assert_eq!(q.sort.len(), 1);
}

fn error(terms: &[&str]) -> QueryError {
    parse(terms, NOW).expect_err("should not parse")
}

#[test]
fn errors_point_at_the_offending_text() {
    let e = error(&["year:1990", "artst:beatles"]);
    assert_eq!(e.message, "unknown field `artst`");
    assert_eq!(e.hint.as_deref(), Some("did you mean `artist`?"));
    assert_eq!(&e.text[e.offset..e.offset + e.len], "artst");
    assert_eq!(
        e.to_string(),
        "unknown field `artst`\n  year:1990 artst:beatles\n            ^^^^^\n  did you mean `artist`?"
    );

    let e = error(&["year:19x0"]);
    assert!(e.message.contains("takes a number"), "{}", e.message);
    assert_eq!(&e.text[e.offset..e.offset + e.len], "19x0");

    let e = error(&["year:2000..1990"]);
    assert!(e.message.contains("empty"));
    let e = error(&["title::("]);
    assert!(e.message.contains("regular expression"), "{}", e.message);
    assert_eq!(&e.text[e.offset..], "(");
    let e = error(&["yeer+"]);
    assert_eq!(e.hint.as_deref(), Some("did you mean `year`?"));
    let e = error(&["ünï", "has:covr"]);
    assert_eq!(e.hint.as_deref(), Some("did you mean `cover`?"));
    assert!(
        e.to_string().contains("\n          ^^^^\n"),
        "caret counts characters: {e}"
    );
    assert!(error(&[",", "a"]).message.contains("both sides"));
    assert!(error(&["a", ","]).message.contains("both sides"));
    assert!(error(&["added:2024-13"]).message.contains("date"));
    assert!(
        error(&["compilation:maybe"])
            .message
            .contains("true or false")
    );
}

#[test]
fn dates_resolve_to_utc_intervals() {
    use parse::test_date_bounds as b;
    // 2024-01-01T00:00:00Z = 1704067200
    assert_eq!(b("2024", NOW), Some((1_704_067_200.0, 1_735_689_599.0)));
    assert_eq!(b("2024-02", NOW), Some((1_706_745_600.0, 1_709_251_199.0)));
    assert_eq!(
        b("2024-02-29", NOW),
        Some((1_709_164_800.0, 1_709_251_199.0))
    );
    assert_eq!(
        b("2024-02-29T10:30", NOW),
        Some((1_709_202_600.0, 1_709_202_659.0))
    );
    assert_eq!(
        b("-2d", NOW),
        Some(((NOW - 172_800) as f64, (NOW - 172_800) as f64))
    );
    assert_eq!(b("2024-1", NOW), None);
    assert_eq!(b("-2x", NOW), None);
}

#[test]
fn display_values() {
    let t = track();
    assert_eq!(display_value(&t, Field::Length).as_deref(), Some("3:16"));
    assert_eq!(
        display_value(&t, Field::Artist).as_deref(),
        Some("Beyoncé; Jay-Z")
    );
    assert_eq!(display_value(&t, Field::Year).as_deref(), Some("2016"));
    assert_eq!(
        display_value(&t, Field::Added).as_deref(),
        Some("2025-06-12")
    );
    assert_eq!(display_value(&t, Field::Composer), None);
    assert_eq!(display_value(&t, Field::Cover).as_deref(), Some("yes"));
}

#[test]
fn sort_strings() {
    assert_eq!(
        parse_sort("year+  title-").unwrap(),
        vec![
            (Field::Year, Direction::Asc),
            (Field::Title, Direction::Desc)
        ]
    );
    assert!(parse_sort("").unwrap().is_empty());
    let e = parse_sort("year+ beatles").unwrap_err();
    assert!(e.message.contains("not a sort key"), "{}", e.message);
    assert_eq!(&e.text[e.offset..e.offset + e.len], "beatles");
    assert_eq!(
        parse_sort("yeer+").unwrap_err().hint.as_deref(),
        Some("did you mean `year`?")
    );
}

#[test]
fn queries_have_a_term_limit() {
    let mut terms: Vec<String> = (0..MAX_TERMS).map(|i| format!("t{i}")).collect();
    assert!(parse(&terms, NOW).is_ok());
    // Commas join alternatives; they are not terms.
    let with_commas: Vec<String> = terms
        .iter()
        .flat_map(|t| [t.clone(), ",".to_string()])
        .take(2 * MAX_TERMS - 1)
        .collect();
    assert!(parse(&with_commas, NOW).is_ok());
    terms.push("extra".into());
    let e = parse(&terms, NOW).unwrap_err();
    assert!(
        e.message.contains(&format!("more than {MAX_TERMS} terms")),
        "{}",
        e.message
    );
    // The caret points at the first term past the limit.
    assert_eq!(&e.text[e.offset..e.offset + e.len], "extra");
    // Sort keys count too.
    terms.pop();
    terms.push("year+".into());
    assert!(parse(&terms, NOW).is_err());
}

/// Spellings that would otherwise match nothing, or not what was meant, without a word.
#[test]
fn silent_spellings_are_accepted_or_pointed_at() {
    // Several sort keys in one argument, as the README writes them for --sort.
    let q = parse(&["artist:x", "year+ title-"], NOW).unwrap();
    assert_eq!(
        q.sort,
        vec![
            (Field::Year, Direction::Asc),
            (Field::Title, Direction::Desc)
        ]
    );
    assert_eq!(q.groups.len(), 1);
    assert!(parse(&[" year+  album- "], NOW).unwrap().is_everything());
    let e = error(&["year+ yeer-"]);
    assert_eq!(e.message, "unknown field `yeer` to sort by");
    assert_eq!(&e.text[e.offset..e.offset + e.len], "yeer");

    // (terms, offending text, words the message has, words the hint has)
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (
            &["genre:techno,"],
            ",",
            "comma",
            "genre:techno , genre:house",
        ),
        (
            &["genre:techno,", "genre:house"],
            ",",
            "comma",
            "of its own",
        ),
        (&["a", ",techno"], ",", "comma", "of its own"),
        (&["-genre:rock,"], ",", "comma", "of its own"),
        (&["artist:=Björk,"], ",", "comma", "of its own"),
        (
            &["beatles year+"],
            "year+",
            "sort key",
            "arguments of their own",
        ),
        (&["artist:the beatles year-"], "year-", "sort key", "year+"),
        (&["artist:="], "artist:=", "needs a value", "^artist:"),
        (&["title:=~"], "title:=~", "needs a value", "title:"),
        (&["has:"], "has:", "needs a field", "has:cover"),
        (&["year:abc"], "abc", "takes a number", ""),
        (
            &["year:1990-1999"],
            "1990-1999",
            "takes a number",
            "1990..1999",
        ),
        (&["length:3:00-4:00"], "3:00-4:00", "length", "3:00..4:00"),
    ];
    for (terms, at, message, hint) in cases {
        let e = error(terms);
        assert_eq!(&e.text[e.offset..e.offset + e.len], *at, "{terms:?}: {e}");
        assert!(e.message.contains(message), "{terms:?}: {e}");
        assert!(
            e.hint.as_deref().unwrap_or("").contains(hint),
            "{terms:?}: {e}"
        );
    }

    // What stays as it was: commas inside a value, a lone comma between terms, words that only
    // look like sort keys, regular expressions, presence tests.
    let fine: &[(&[&str], bool)] = &[
        (&["title:pray, you"], false),
        (&["path::Catch Me"], true),
        (&["pray , nope"], false),
        (&["title::Me,?$"], true),
        (&["Catch Me-"], false),
        (&["genre:"], true),
        (&["^composer:"], true),
    ];
    for (terms, expected) in fine {
        check(terms, *expected);
    }
}
