//! What the page tells the person beside the run: notices, and the share link of the result.

use crate::engine::link;
use crate::engine::result::ResultFile;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    Error,
    Info,
}

/// A notice for the person: an error or a piece of information.
#[derive(Clone, Debug, PartialEq)]
pub struct Notice {
    pub kind: NoticeKind,
    pub text: String,
}

impl Notice {
    pub fn error(text: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Error,
            text: text.into(),
        }
    }

    pub fn info(text: impl Into<String>) -> Self {
        Self {
            kind: NoticeKind::Info,
            text: text.into(),
        }
    }
}

/// The share link of the displayed result, or why there is none.
#[derive(Clone, Debug, PartialEq)]
pub enum ShareLink {
    Ready(String),
    TooLong { chars: usize, limit: usize },
}

impl ShareLink {
    /// The link to `page_url` that opens `result`, if it fits.
    pub fn of(result: &ResultFile, page_url: &str) -> Self {
        let url = format!("{page_url}#r={}", link::encode(result));
        if url.len() > link::MAX_LINK_CHARS {
            ShareLink::TooLong {
                chars: url.len(),
                limit: link::MAX_LINK_CHARS,
            }
        } else {
            ShareLink::Ready(url)
        }
    }
}

impl std::fmt::Display for ShareLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ShareLink::Ready(url) => f.write_str(url),
            ShareLink::TooLong { chars, limit } => write!(
                f,
                "This result is too big for a link ({chars} characters; the limit is {limit})."
            ),
        }
    }
}
