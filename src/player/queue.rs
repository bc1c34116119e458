//! The play queue: which track comes next under shuffle and repeat, and whether the queue is
//! playing whole albums in order (what ReplayGain's `auto` mode asks). Pure: the random source
//! is passed in.

use std::path::PathBuf;

use crate::audio::gain;

/// One queued track: what the engine needs to play it and the UI to show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// Library id, when the track is in the library (history is recorded for those).
    pub id: Option<i64>,
    pub path: PathBuf,
    pub title: String,
    pub artist: Option<String>,
    pub album: Option<String>,
    /// Groups an album's tracks (album artist + album, or the folder for untagged files).
    pub album_key: String,
    /// Seconds, as the library knows it (0 when unknown).
    pub duration: f64,
    pub format: String,
    pub gain: gain::Tags,
    /// Which queue entry this is, for a queue whose entries are named (the player service's
    /// song ids); 0 otherwise.
    pub entry: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Repeat {
    #[default]
    Off,
    All,
    One,
}

impl Repeat {
    pub fn cycle(self) -> Repeat {
        match self {
            Repeat::Off => Repeat::All,
            Repeat::All => Repeat::One,
            Repeat::One => Repeat::Off,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Repeat::Off => "off",
            Repeat::All => "all",
            Repeat::One => "one",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Shuffle {
    #[default]
    Off,
    Tracks,
    Albums,
}

impl Shuffle {
    pub fn name(self) -> &'static str {
        match self {
            Shuffle::Off => "off",
            Shuffle::Tracks => "tracks",
            Shuffle::Albums => "albums",
        }
    }

    pub fn parse(name: &str) -> Option<Shuffle> {
        Some(match name {
            "off" => Shuffle::Off,
            "tracks" => Shuffle::Tracks,
            "albums" => Shuffle::Albums,
            _ => return None,
        })
    }
}

/// A small deterministic generator (xorshift), so shuffles can be seeded in tests.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed | 1)
    }

    pub fn below(&mut self, n: usize) -> usize {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x % n.max(1) as u64) as usize
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

/// The queue: items in their given (album) order, and the order they play in.
#[derive(Debug, Clone)]
pub struct Queue {
    items: Vec<Item>,
    order: Vec<usize>,
    cursor: usize,
    pub repeat: Repeat,
    /// Without repeat, stop when the current item ends (MPD's `single`).
    pub single: bool,
    shuffle: Shuffle,
    rng: Rng,
    /// Whether the given order keeps each album's tracks together.
    albums_together: bool,
}

impl Queue {
    pub fn new(items: Vec<Item>, shuffle: Shuffle, repeat: Repeat, seed: u64) -> Queue {
        let mut seen = std::collections::HashSet::new();
        let albums_together = items
            .chunk_by(|a, b| a.album_key == b.album_key)
            .all(|run| seen.insert(run[0].album_key.as_str()));
        let mut q = Queue {
            albums_together,
            order: (0..items.len()).collect(),
            items,
            cursor: 0,
            repeat,
            single: false,
            shuffle: Shuffle::Off,
            rng: Rng::new(seed),
        };
        q.set_shuffle(shuffle, false);
        q
    }

    /// A queue as it was left: `order` is the play order (indexes into `items`), kept when it
    /// orders every item once, else the given order; the cursor at `cursor` in it.
    pub fn restore(
        items: Vec<Item>,
        order: Vec<usize>,
        cursor: usize,
        shuffle: Shuffle,
        repeat: Repeat,
        seed: u64,
    ) -> Queue {
        let mut q = Queue::new(items, Shuffle::Off, repeat, seed);
        let mut seen = vec![false; q.items.len()];
        let whole = order.len() == q.items.len()
            && order
                .iter()
                .all(|&i| i < seen.len() && !std::mem::replace(&mut seen[i], true));
        if whole {
            q.order = order;
            q.shuffle = shuffle;
        }
        q.cursor = cursor.min(q.items.len().saturating_sub(1));
        q
    }

    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    pub fn items(&self) -> &[Item] {
        &self.items
    }

    pub fn shuffle(&self) -> Shuffle {
        self.shuffle
    }

    /// The item at the cursor.
    pub fn current(&self) -> Option<(usize, &Item)> {
        let i = *self.order.get(self.cursor)?;
        Some((i, &self.items[i]))
    }

    /// Positions in play order, from the cursor on (for `--resume` and display).
    pub fn play_order(&self) -> &[usize] {
        &self.order
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Puts the cursor on the item with index `item` (in the given order).
    pub fn jump_to_item(&mut self, item: usize) -> bool {
        match self.order.iter().position(|&i| i == item) {
            Some(c) => {
                self.cursor = c;
                true
            }
            None => false,
        }
    }

    /// Changes the shuffle. The playing item stays where it is and the rest is reordered
    /// around it; turning shuffle off returns to the given order from the playing item.
    pub fn set_shuffle(&mut self, shuffle: Shuffle, keep_current: bool) {
        let current = self.current().map(|(i, _)| i);
        self.shuffle = shuffle;
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        match shuffle {
            Shuffle::Off => {}
            Shuffle::Tracks => self.rng.shuffle(&mut order),
            Shuffle::Albums => {
                let mut albums: Vec<Vec<usize>> = Vec::new();
                for i in order {
                    match albums.last_mut() {
                        Some(a) if self.items[a[0]].album_key == self.items[i].album_key => {
                            a.push(i)
                        }
                        _ => albums.push(vec![i]),
                    }
                }
                self.rng.shuffle(&mut albums);
                order = albums.concat();
            }
        }
        self.order = order;
        self.cursor = 0;
        if let (true, Some(cur)) = (keep_current, current) {
            if shuffle == Shuffle::Tracks {
                // The playing track first, the rest shuffled after it.
                let at = self.order.iter().position(|&i| i == cur).unwrap_or(0);
                self.order.swap(0, at);
            } else {
                self.jump_to_item(cur);
            }
        }
    }

    /// Advances after a track ended by itself: repeat-one plays it again.
    pub fn advance_natural(&mut self) -> bool {
        if self.repeat == Repeat::One {
            return !self.items.is_empty();
        }
        if self.single && self.repeat == Repeat::Off {
            return false;
        }
        self.next()
    }

    /// Moves to the next item (the `n` key): repeat-all wraps around; returns false at the end.
    pub fn next(&mut self) -> bool {
        if self.cursor + 1 < self.order.len() {
            self.cursor += 1;
            true
        } else if self.repeat != Repeat::Off && !self.order.is_empty() {
            self.cursor = 0;
            true
        } else {
            false
        }
    }

    /// Moves to the previous item; wraps with repeat-all, stays on the first otherwise.
    pub fn previous(&mut self) -> bool {
        if self.cursor > 0 {
            self.cursor -= 1;
            true
        } else if self.repeat != Repeat::Off && !self.order.is_empty() {
            self.cursor = self.order.len() - 1;
            true
        } else {
            false
        }
    }

    /// The item after the current one that would play if this one ends naturally.
    pub fn peek_natural(&self) -> Option<usize> {
        self.current().and_then(|(i, _)| self.natural_after(i))
    }

    /// The item that would play after item `item` ends by itself (what `advance_natural`
    /// moves to), without moving the cursor.
    pub fn natural_after(&self, item: usize) -> Option<usize> {
        let at = self.order.iter().position(|&i| i == item)?;
        if self.repeat == Repeat::One {
            return Some(item);
        }
        if self.single && self.repeat == Repeat::Off {
            return None;
        }
        match self.order.get(at + 1) {
            Some(&next) => Some(next),
            None if self.repeat != Repeat::Off => self.order.first().copied(),
            None => None,
        }
    }

    /// Takes a play order and modes as they are elsewhere (the engine's copy of this queue):
    /// `order` is kept when it orders every item once.
    pub fn adopt(&mut self, order: Vec<usize>, cursor: usize, shuffle: Shuffle, repeat: Repeat) {
        let mut seen = vec![false; self.items.len()];
        let whole = order.len() == self.items.len()
            && order
                .iter()
                .all(|&i| i < seen.len() && !std::mem::replace(&mut seen[i], true));
        if whole {
            self.order = order;
            self.shuffle = shuffle;
        }
        self.repeat = repeat;
        self.cursor = cursor.min(self.order.len());
    }

    /// Whether the queue plays albums in order (for ReplayGain `auto`): each album's tracks
    /// together in the given order, and no track shuffle.
    pub fn in_album_order(&self) -> bool {
        self.albums_together && self.shuffle != Shuffle::Tracks
    }

    pub fn push(&mut self, item: Item) {
        self.items.push(item);
        self.order.push(self.items.len() - 1);
    }

    /// Replaces the items after an edit of the list (items added, removed, moved): `map[old]`
    /// is where each old item is now, `None` when it was removed; items no old one maps to are
    /// new. Unshuffled, the play order is the new list order; shuffled, the kept items keep
    /// their play order and new ones go at its end. The cursor stays on its item, or moves to
    /// the first kept item after it in the play order (past the end when there is none).
    pub fn edit(&mut self, items: Vec<Item>, map: &[Option<usize>]) {
        let old_cursor = self.cursor;
        let landing = self
            .order
            .iter()
            .skip(old_cursor)
            .find_map(|&i| map.get(i).copied().flatten());
        let mut mapped = vec![false; items.len()];
        for &n in map.iter().flatten() {
            if n < mapped.len() {
                mapped[n] = true;
            }
        }
        self.order = if self.shuffle == Shuffle::Off {
            (0..items.len()).collect()
        } else {
            let mut order: Vec<usize> = self
                .order
                .iter()
                .filter_map(|&i| map.get(i).copied().flatten())
                .filter(|&n| n < items.len())
                .collect();
            order.extend((0..items.len()).filter(|&n| !mapped[n]));
            order
        };
        let mut seen = std::collections::HashSet::new();
        self.albums_together = items
            .chunk_by(|a, b| a.album_key == b.album_key)
            .all(|run| seen.insert(run[0].album_key.as_str()));
        self.items = items;
        self.cursor = match landing {
            Some(n) => self
                .order
                .iter()
                .position(|&i| i == n)
                .unwrap_or(self.order.len()),
            None => self.order.len(),
        };
    }

    /// Removes the item with index `item`; the cursor stays on the same playing item.
    pub fn remove(&mut self, item: usize) -> Option<Item> {
        if item >= self.items.len() {
            return None;
        }
        let pos = self.order.iter().position(|&i| i == item)?;
        self.order.remove(pos);
        if pos < self.cursor {
            self.cursor -= 1;
        }
        for i in &mut self.order {
            if *i > item {
                *i -= 1;
            }
        }
        Some(self.items.remove(item))
    }
}

/// The history rule: a track counts as played when it was heard to the end, or for more than
/// half its length, or for more than four minutes.
pub fn counts_as_played(heard_secs: f64, duration: f64, finished: bool) -> bool {
    finished || heard_secs > 240.0 || (duration > 0.0 && heard_secs > duration / 2.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(album: &str, n: u32) -> Item {
        Item {
            id: Some(i64::from(n)),
            path: PathBuf::from(format!("/m/{album}/{n}.flac")),
            title: format!("{album}{n}"),
            artist: None,
            album: Some(album.into()),
            album_key: album.into(),
            duration: 100.0,
            format: "FLAC".into(),
            gain: gain::Tags::default(),
            entry: 0,
        }
    }

    fn items() -> Vec<Item> {
        let mut v = Vec::new();
        for a in ["a", "b", "c", "d"] {
            for n in 1..=3 {
                v.push(item(a, n));
            }
        }
        v
    }

    fn titles(q: &Queue) -> Vec<String> {
        q.play_order()
            .iter()
            .map(|&i| q.items()[i].title.clone())
            .collect()
    }

    #[test]
    fn a_restored_queue_keeps_its_order_only_when_it_orders_every_item_once() {
        let order: Vec<usize> = (0..12).rev().collect();
        let q = Queue::restore(items(), order.clone(), 3, Shuffle::Tracks, Repeat::All, 1);
        assert_eq!(q.play_order(), order.as_slice());
        assert_eq!(
            (q.cursor(), q.shuffle(), q.repeat),
            (3, Shuffle::Tracks, Repeat::All)
        );
        assert_eq!(q.current().unwrap().1.title, "c3");
        let natural: Vec<usize> = (0..12).collect();
        for bad in [vec![0, 1, 2], vec![0; 12], (1..13).collect::<Vec<_>>()] {
            let q = Queue::restore(items(), bad, 99, Shuffle::Tracks, Repeat::Off, 1);
            assert_eq!(q.play_order(), natural.as_slice());
            assert_eq!((q.shuffle(), q.cursor()), (Shuffle::Off, 11));
        }
    }

    #[test]
    fn plain_order_and_repeat() {
        let mut q = Queue::new(items()[..3].to_vec(), Shuffle::Off, Repeat::Off, 1);
        assert_eq!(q.current().unwrap().1.title, "a1");
        assert!(q.next() && q.next());
        assert!(!q.next(), "the end without repeat");
        q.repeat = Repeat::All;
        assert!(q.next());
        assert_eq!(q.current().unwrap().1.title, "a1");
        q.repeat = Repeat::One;
        assert!(q.advance_natural());
        assert_eq!(
            q.current().unwrap().1.title,
            "a1",
            "repeat one plays it again"
        );
        assert!(q.next());
        assert_eq!(q.current().unwrap().1.title, "a2", "but n moves on");
    }

    #[test]
    fn album_shuffle_keeps_albums_whole_and_in_order() {
        let q = Queue::new(items(), Shuffle::Albums, Repeat::Off, 7);
        let t = titles(&q);
        assert_eq!(t.len(), 12);
        for chunk in t.chunks(3) {
            let album = &chunk[0][..1];
            assert_eq!(
                chunk,
                [
                    format!("{album}1"),
                    format!("{album}2"),
                    format!("{album}3")
                ]
            );
        }
        assert!(q.in_album_order());
    }

    #[test]
    fn track_shuffle_is_a_permutation_that_keeps_the_playing_track() {
        let mut q = Queue::new(items(), Shuffle::Off, Repeat::Off, 3);
        q.next();
        q.set_shuffle(Shuffle::Tracks, true);
        assert_eq!(q.current().unwrap().1.title, "a2");
        let mut t = titles(&q);
        assert_ne!(
            t,
            titles(&Queue::new(items(), Shuffle::Off, Repeat::Off, 3))
        );
        t.sort();
        let mut all: Vec<String> = items().into_iter().map(|i| i.title).collect();
        all.sort();
        assert_eq!(t, all);
        assert!(!q.in_album_order());
        let mut mixed = items();
        mixed.swap(0, 5);
        assert!(!Queue::new(mixed, Shuffle::Off, Repeat::Off, 3).in_album_order());
        q.set_shuffle(Shuffle::Off, true);
        assert_eq!(q.current().unwrap().1.title, "a2");
        q.next();
        assert_eq!(q.current().unwrap().1.title, "a3");
    }

    #[test]
    fn removing_keeps_the_cursor_on_the_playing_item() {
        let mut q = Queue::new(items()[..4].to_vec(), Shuffle::Off, Repeat::Off, 1);
        q.next();
        q.next();
        assert_eq!(q.current().unwrap().1.title, "a3");
        q.remove(0);
        assert_eq!(q.current().unwrap().1.title, "a3");
        assert_eq!(
            q.peek_natural().map(|i| q.items()[i].title.clone()),
            Some("b1".into())
        );
    }

    #[test]
    fn history_rule() {
        assert!(counts_as_played(10.0, 300.0, true));
        assert!(counts_as_played(151.0, 300.0, false));
        assert!(!counts_as_played(149.0, 300.0, false));
        assert!(counts_as_played(241.0, 3600.0, false));
        assert!(!counts_as_played(239.0, 3600.0, false));
        assert!(!counts_as_played(5.0, 0.0, false));
    }

    #[test]
    fn an_edit_keeps_the_cursor_on_its_item_and_follows_the_list() {
        let mut q = Queue::new(items(), Shuffle::Off, Repeat::Off, 1);
        q.jump_to_item(4); // b2
        // Move b2 to the front, drop a1, add a new item at the end.
        let old = q.items().to_vec();
        let mut new = vec![
            old[4].clone(),
            old[1].clone(),
            old[2].clone(),
            old[3].clone(),
        ];
        new.extend(old[5..].iter().cloned());
        new.push(item("e", 1));
        let mut map = vec![None; old.len()];
        map[4] = Some(0);
        map[1] = Some(1);
        map[2] = Some(2);
        map[3] = Some(3);
        for (n, m) in map.iter_mut().enumerate().skip(5) {
            *m = Some(n - 1);
        }
        q.edit(new, &map);
        assert_eq!(q.current().unwrap().1.title, "b2");
        assert_eq!(titles(&q)[..3], ["b2", "a2", "a3"]);
        assert_eq!(titles(&q).last().unwrap(), "e1");
        // Removing the current item lands on the next kept one.
        let old = q.items().to_vec();
        let map: Vec<Option<usize>> = (0..old.len())
            .map(|i| if i == 0 { None } else { Some(i - 1) })
            .collect();
        q.edit(old[1..].to_vec(), &map);
        assert_eq!(q.current().unwrap().1.title, "a2");
        // Removing everything leaves no current item.
        let n = q.len();
        q.edit(Vec::new(), &vec![None; n]);
        assert!(q.current().is_none());
    }

    #[test]
    fn a_shuffled_edit_keeps_the_play_order_and_appends_new_items() {
        let mut q = Queue::new(items(), Shuffle::Tracks, Repeat::Off, 7);
        let before = titles(&q);
        let mut new = q.items().to_vec();
        new.push(item("e", 1));
        let map: Vec<Option<usize>> = (0..12).map(Some).collect();
        q.edit(new, &map);
        let after = titles(&q);
        assert_eq!(after[..12], before[..]);
        assert_eq!(after[12], "e1");
    }

    #[test]
    fn single_stops_after_the_current_item_unless_it_repeats() {
        let mut q = Queue::new(items(), Shuffle::Off, Repeat::Off, 1);
        q.single = true;
        assert!(!q.advance_natural());
        assert!(q.next(), "a skip still moves on");
        q.repeat = Repeat::One;
        assert!(q.advance_natural());
        assert_eq!(q.current().unwrap().1.title, "a2");
    }
}
