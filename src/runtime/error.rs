//! What can go wrong in the runtime and the page's browser services (fetch, the Cache API,
//! IndexedDB, JavaScript calls), as one type. JS exceptions become text once, through
//! [`describe`](crate::runtime::js::describe), at the point where they are caught.

/// A failure of the runtime, in words for the page.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RuntimeError {
    /// A JavaScript call threw (its message).
    #[error("{0}")]
    Js(String),
    /// The browser lacks something needed (IndexedDB in private mode, the Cache API).
    #[error("{0}")]
    Unavailable(String),
    /// A download failed or came back incomplete.
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    /// Something kept in the browser (a saved run, the run journal, a cache entry) is missing
    /// or damaged, or could not be written.
    #[error("{0}")]
    Storage(String),
    /// Input data (a data set's files, a dropped archive, a result file) is not what it claims.
    #[error("{0}")]
    Data(String),
    /// The engine refused the run or failed during it.
    #[error("{0}")]
    Engine(String),
}

impl RuntimeError {
    /// The same error with `context` in front of its message (`"the data could not be cached: …"`).
    pub fn context(self, context: &str) -> Self {
        let with = |m: String| format!("{context}: {m}");
        match self {
            RuntimeError::Js(m) => RuntimeError::Js(with(m)),
            RuntimeError::Unavailable(m) => RuntimeError::Unavailable(with(m)),
            RuntimeError::Fetch { url, reason } => RuntimeError::Fetch {
                url,
                reason: with(reason),
            },
            RuntimeError::Storage(m) => RuntimeError::Storage(with(m)),
            RuntimeError::Data(m) => RuntimeError::Data(with(m)),
            RuntimeError::Engine(m) => RuntimeError::Engine(with(m)),
        }
    }
}

#[cfg(target_arch = "wasm32")]
impl From<wasm_bindgen::JsValue> for RuntimeError {
    fn from(error: wasm_bindgen::JsValue) -> Self {
        RuntimeError::Js(crate::runtime::js::describe(&error))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_kind_and_prefixes_the_words() {
        let e = RuntimeError::Storage("quota exceeded".into()).context("the data could not be cached");
        assert_eq!(e.to_string(), "the data could not be cached: quota exceeded");
        assert!(matches!(e, RuntimeError::Storage(_)));
        let f = RuntimeError::Fetch {
            url: "data/x".into(),
            reason: "the server answered 404".into(),
        };
        assert_eq!(f.to_string(), "data/x: the server answered 404");
    }
}
