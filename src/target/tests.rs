use std::os::unix::fs::symlink;

use super::*;

fn rel(s: &str) -> RelPath {
    RelPath::parse(s).unwrap()
}

/// A target folder beside a decoy folder that must never change.
fn setup() -> (tempfile::TempDir, Target, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("target");
    let decoy = dir.path().join("decoy");
    std::fs::create_dir_all(&root).unwrap();
    std::fs::create_dir_all(&decoy).unwrap();
    std::fs::write(decoy.join("taxes.txt"), b"precious").unwrap();
    let t = Target::open(&root).unwrap();
    (dir, t, decoy)
}

#[test]
fn links_are_never_written_through_renamed_over_or_removed() {
    let (dir, t, decoy) = setup();
    let root = dir.path().join("target");
    symlink(&decoy, root.join("Album")).unwrap();
    symlink(decoy.join("taxes.txt"), root.join("file.mp3")).unwrap();
    // Through a linked folder.
    assert!(matches!(
        t.create_new(&rel("Album/01.mp3")),
        Err(Error::Link { .. })
    ));
    assert!(matches!(
        t.ensure_dir(&rel("Album/Disc 2")),
        Err(Error::Link { .. })
    ));
    assert!(matches!(
        t.remove_file(&rel("Album/taxes.txt")),
        Err(Error::Link { .. })
    ));
    // Onto a linked file.
    assert!(matches!(
        t.create_new(&rel("file.mp3")),
        Err(Error::Link { .. })
    ));
    std::fs::write(root.join("new"), b"x").unwrap();
    assert!(matches!(
        t.rename(&rel("new"), &rel("file.mp3"), true),
        Err(Error::Link { .. })
    ));
    assert!(matches!(
        t.remove_file(&rel("file.mp3")),
        Err(Error::Link { .. })
    ));
    assert!(matches!(
        t.open_read(&rel("file.mp3")),
        Err(Error::Link { .. })
    ));
    assert!(matches!(
        t.open_append(&rel("file.mp3")),
        Err(Error::Link { .. })
    ));
    assert_eq!(t.meta(&rel("file.mp3")).unwrap().unwrap().kind, Kind::Link);
    assert_eq!(std::fs::read(decoy.join("taxes.txt")).unwrap(), b"precious");
    assert_eq!(std::fs::read_dir(&decoy).unwrap().count(), 1);
    let (files, links) = t.list_files().unwrap();
    assert_eq!(links, vec!["Album".to_string(), "file.mp3".to_string()]);
    assert_eq!(files.keys().collect::<Vec<_>>(), vec!["new"]);
}

#[test]
fn a_linked_tapedeck_folder_is_refused_for_the_lock() {
    let (dir, mut t, decoy) = setup();
    symlink(&decoy, dir.path().join("target").join(DIR)).unwrap();
    assert!(matches!(t.lock(), Err(Error::Link { .. })));
}

#[test]
fn create_never_clobbers_and_rename_replaces_only_when_asked() {
    let (dir, t, _) = setup();
    let root = dir.path().join("target");
    std::fs::write(root.join("mine.txt"), b"user").unwrap();
    assert!(matches!(
        t.create_new(&rel("mine.txt")),
        Err(Error::Exists { .. })
    ));
    t.write_atomic(&rel("ours.txt"), b"one", false).unwrap();
    assert!(matches!(
        t.write_atomic(&rel("mine.txt"), b"two", false),
        Err(Error::Exists { .. })
    ));
    assert_eq!(std::fs::read(root.join("mine.txt")).unwrap(), b"user");
    t.write_atomic(&rel("ours.txt"), b"two", true).unwrap();
    assert_eq!(std::fs::read(root.join("ours.txt")).unwrap(), b"two");
    // Nothing temporary is left behind.
    let names: Vec<_> = t.list(None).unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn ownership_checks_size_then_contents() {
    let (dir, t, _) = setup();
    let root = dir.path().join("target");
    let (size, h) = t.copy_in(&b"written by us"[..], &rel("a.mp3")).unwrap();
    assert_eq!(
        t.ownership(&rel("a.mp3"), size, &h).unwrap(),
        Ownership::Ours
    );
    std::fs::write(root.join("a.mp3"), b"written by US").unwrap();
    assert_eq!(
        t.ownership(&rel("a.mp3"), size, &h).unwrap(),
        Ownership::Changed("its contents changed")
    );
    std::fs::write(root.join("a.mp3"), b"short").unwrap();
    assert_eq!(
        t.ownership(&rel("a.mp3"), size, &h).unwrap(),
        Ownership::Changed("its size changed")
    );
    std::fs::remove_file(root.join("a.mp3")).unwrap();
    assert_eq!(
        t.ownership(&rel("a.mp3"), size, &h).unwrap(),
        Ownership::Missing
    );
    assert_eq!(
        t.ownership(&rel("no/such/dir"), 1, "0").unwrap(),
        Ownership::Missing
    );
}

#[test]
fn one_writer_per_target() {
    let (dir, mut t, _) = setup();
    t.lock().unwrap();
    let mut second = Target::open(&dir.path().join("target")).unwrap();
    assert!(matches!(second.lock(), Err(Error::Busy { .. })));
    drop(t);
    second.lock().unwrap();
}

#[test]
fn a_root_that_moved_or_was_replaced_is_gone() {
    let (dir, t, _) = setup();
    t.check_present().unwrap();
    let root = dir.path().join("target");
    std::fs::rename(&root, dir.path().join("elsewhere")).unwrap();
    std::fs::create_dir(&root).unwrap();
    assert!(matches!(t.check_present(), Err(Error::Gone { .. })));
    // Writes still go to the folder that was opened, never the new one at the old name.
    t.write_atomic(&rel("x"), b"1", false).unwrap();
    assert!(dir.path().join("elsewhere/x").exists());
    assert!(!root.join("x").exists());
}

#[test]
fn output_file_refuses_existing_links_and_protected_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.wav");
    let input = dir.path().join("in.flac");
    std::fs::write(&input, b"music").unwrap();
    // New file: written and renamed into place.
    let mut o = OutputFile::create(&out, false, &[]).unwrap();
    o.file().write_all(b"one").unwrap();
    o.commit().unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"one");
    // Existing: refused without force, replaced with it.
    assert!(matches!(
        OutputFile::create(&out, false, &[]),
        Err(Error::Exists { .. })
    ));
    let mut o = OutputFile::create(&out, true, &[]).unwrap();
    o.file().write_all(b"two").unwrap();
    o.commit().unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), b"two");
    // An input is never replaced, even with force, under another spelling or a hard link.
    let spelled = dir.path().join(".").join("in.flac");
    assert!(matches!(
        OutputFile::create(&spelled, true, std::slice::from_ref(&input)),
        Err(Error::NotOurs { .. })
    ));
    std::fs::hard_link(&input, dir.path().join("hard.flac")).unwrap();
    assert!(
        OutputFile::create(
            &dir.path().join("hard.flac"),
            true,
            std::slice::from_ref(&input)
        )
        .is_err()
    );
    assert_eq!(std::fs::read(&input).unwrap(), b"music");
    // A link at the name is refused, even with force.
    symlink(&input, dir.path().join("link.wav")).unwrap();
    assert!(matches!(
        OutputFile::create(&dir.path().join("link.wav"), true, &[]),
        Err(Error::Link { .. })
    ));
    // Dropped without commit: nothing is left.
    let o = OutputFile::create(&dir.path().join("gone.wav"), false, &[]).unwrap();
    drop(o);
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("part")), "{names:?}");
    assert!(!dir.path().join("gone.wav").exists());
}

#[test]
fn temporary_names_stay_short_whatever_the_final_name() {
    let (_dir, t, _) = setup();
    let long = "é".repeat(127); // 254 bytes
    let r = rel(&format!("A/{long}"));
    t.ensure_dir(&rel("A")).unwrap();
    let tmp = t.temp_name(&r).unwrap();
    assert!(tmp.name().len() < 64);
    t.write_atomic(&r, b"x", false).unwrap();
    assert_eq!(t.read(&r, 10).unwrap().unwrap(), b"x");
}

#[test]
fn a_folder_removed_and_replaced_by_a_link_is_not_written_through() {
    let (dir, t, decoy) = setup();
    let root = dir.path().join("target");
    t.ensure_dir(&rel("A")).unwrap();
    t.copy_in(&b"x"[..], &rel("A/x")).unwrap();
    t.remove_file(&rel("A/x")).unwrap();
    t.remove_dir(&rel("A")).unwrap();
    symlink(&decoy, root.join("A")).unwrap();
    assert!(matches!(t.create_new(&rel("A/y")), Err(Error::Link { .. })));
    assert_eq!(std::fs::read_dir(&decoy).unwrap().count(), 1);
}
