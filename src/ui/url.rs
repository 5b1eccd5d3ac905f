//! The page's address: the whole config lives in the URL fragment, with the CLI's long flag
//! names as keys, so reloading or sharing the address keeps it.
//!
//! `#model=fcn&depth=3&…&run=1&backend=cpu`: `run=1` starts the run at once, `backend` forces a
//! backend. Everything else is an experiment key (see `engine::config::KEYS`).

use crate::engine::config::{ConfigError, ExperimentConfig};
use crate::runtime::protocol::BackendChoice;

/// What an address asks for.
#[derive(Clone, Debug, PartialEq)]
pub struct Fragment {
    /// The experiment keys as given (validated separately so a bad value can be shown).
    pub pairs: Vec<(String, String)>,
    pub backend: BackendChoice,
    pub run: bool,
    /// A shared result (`r=…`), still encoded.
    pub shared: Option<String>,
}

/// Percent-decoding of one component (`+` is a space, as in forms).
pub fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encoding of the characters that would break a fragment's `key=value&` structure.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            'A'..='Z' | 'a'..='z' | '0'..='9' | '-' | '_' | '.' | ',' | ';' | '~' => out.push(c),
            _ => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    out.push_str(&format!("%{b:02X}"));
                }
            }
        }
    }
    out
}

/// Parses `location.hash` (with or without the leading `#`).
pub fn parse(hash: &str) -> Fragment {
    let body = hash.strip_prefix('#').unwrap_or(hash);
    let mut fragment = Fragment {
        pairs: Vec::new(),
        backend: BackendChoice::Auto,
        run: false,
        shared: None,
    };
    for part in body.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = part.split_once('=').unwrap_or((part, ""));
        let key = decode_component(key);
        let value = decode_component(value);
        match key.as_str() {
            "run" => fragment.run = value != "0" && value != "false",
            "backend" => fragment.backend = BackendChoice::parse(&value).unwrap_or(BackendChoice::Auto),
            "r" => fragment.shared = Some(value),
            _ => fragment.pairs.push((key, value)),
        }
    }
    fragment
}

impl Fragment {
    /// The config these pairs describe (on top of the defaults).
    pub fn config(&self) -> Result<ExperimentConfig, ConfigError> {
        ExperimentConfig::from_pairs(self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
    }
}

/// The fragment for a config (every key spelled out) and a backend choice.
pub fn format(config: &ExperimentConfig, backend: BackendChoice) -> String {
    let query = config.to_query(encode_component);
    match backend {
        BackendChoice::Auto => format!("#{query}"),
        other => format!("#{query}&backend={}", other.name()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_example_parses() {
        let f = parse(
            "#model=fcn&depth=3&width=256&epochs=2&batch-size=128&lr=0.01&momentum=0.9&checkpoints=0,1,2&seed=0&train-limit=2000&test-limit=1000&run=1&backend=cpu",
        );
        assert!(f.run);
        assert_eq!(f.backend, BackendChoice::Cpu);
        let c = f.config().unwrap();
        assert_eq!(c.epochs, 2);
        assert_eq!(c.train_limit, Some(2000));
        assert_eq!(c.checkpoints, vec![0, 1, 2]);
    }

    #[test]
    fn format_round_trips() {
        let c =
            ExperimentConfig::from_pairs([("model", "vgg11"), ("width-mult", "0.25"), ("joint", "fc1,fc2")])
                .unwrap();
        let hash = format(&c, BackendChoice::Webgpu);
        let f = parse(&hash);
        assert_eq!(f.backend, BackendChoice::Webgpu);
        assert_eq!(f.config().unwrap(), c);
    }

    #[test]
    fn hostile_fragments_do_not_panic() {
        for hash in [
            "#%",
            "#%%%",
            "#a=%zz",
            "#=&=&",
            "#lr=%E2%82%AC",
            "#model=%FF%FE",
            "#r",
        ] {
            let f = parse(hash);
            let _ = f.config();
        }
        assert!(parse("#lr=fast").config().is_err());
        assert_eq!(decode_component("a%20b+c"), "a b c");
    }
}
