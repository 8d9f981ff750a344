//! Statement texts built once and reused.
//!
//! Every statement goes through rusqlite's prepared-statement cache, which is keyed by the
//! statement's text: a text that varies with a few parameters (the columns an update sets, the
//! number of kinds a claim filters on) still has to be spelled out before each lookup. Built
//! with `format!` at every call, those texts (several kilobytes for a 64-row update) were a
//! fourteenth of the instructions of a one-task enqueue, claim and complete. A [`TextMemo`]
//! builds each text once per thread and key and hands out a shared copy.

use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::rc::Rc;

/// At most this many texts are kept per memo; past it a text is built for the call and
/// dropped. The keys come from the store's own code paths (a few dozen column sets, a few page
/// sizes), so the cap is only a bound, never reached in practice.
const MAX_TEXTS: usize = 512;

/// Statement texts by key, for one thread (declare it in a `thread_local!`).
pub(crate) struct TextMemo<K> {
    texts: RefCell<HashMap<K, Rc<str>>>,
}

impl<K: Hash + Eq> TextMemo<K> {
    /// An empty memo.
    pub(crate) fn new() -> Self {
        TextMemo { texts: RefCell::new(HashMap::new()) }
    }

    /// The text for `key`, built by `build` the first time it is asked for.
    pub(crate) fn text<Q>(&self, key: &Q, build: impl FnOnce() -> String) -> Rc<str>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        if let Some(text) = self.texts.borrow().get(key) {
            return Rc::clone(text);
        }
        let text: Rc<str> = build().into();
        let mut texts = self.texts.borrow_mut();
        if texts.len() < MAX_TEXTS {
            texts.insert(key.to_owned(), Rc::clone(&text));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::{MAX_TEXTS, TextMemo};

    #[test]
    fn a_text_is_built_once_per_key() {
        let memo: TextMemo<Vec<&'static str>> = TextMemo::new();
        let builds = Cell::new(0);
        let build = |text: &str| {
            builds.set(builds.get() + 1);
            text.to_owned()
        };
        let first = memo.text(["a", "b"].as_slice(), || build("SET a, b"));
        let again = memo.text(["a", "b"].as_slice(), || build("never built"));
        let other = memo.text(["a"].as_slice(), || build("SET a"));
        assert_eq!((&*first, &*again, &*other), ("SET a, b", "SET a, b", "SET a"));
        assert_eq!(builds.get(), 2, "the second ask for a key reuses its text");
    }

    #[test]
    fn past_the_cap_texts_are_still_right_but_not_kept() {
        let memo: TextMemo<usize> = TextMemo::new();
        for n in 0..MAX_TEXTS + 10 {
            assert_eq!(&*memo.text(&n, || n.to_string()), n.to_string());
        }
        assert_eq!(memo.texts.borrow().len(), MAX_TEXTS);
        assert_eq!(&*memo.text(&(MAX_TEXTS + 5), || "built again".to_owned()), "built again");
    }
}
