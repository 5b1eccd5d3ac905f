//! How each config key's value is spelled: one [`Value`] impl per field type gives its parser,
//! its formatter, its form control and the words of its error message. The key table
//! (`super::KEYS`) is built from these, so a field's type decides all of it.

use super::{ExperimentConfig, ModelKind};
use crate::engine::data::DatasetKind;

/// Which models a key means something for (the others ignore it, and forms hide it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    All,
    Fcn,
    Cnn,
}

impl Family {
    pub fn includes(self, model: ModelKind) -> bool {
        match self {
            Family::All => true,
            Family::Fcn => !model.is_cnn(),
            Family::Cnn => model.is_cnn(),
        }
    }
}

/// How a key is edited in the page's form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Control {
    Text,
    /// One of these spellings.
    Choice(&'static [&'static str]),
}

/// One experiment key: everything the CLI, the URL fragment, links, result files and the form
/// know about it. Built by `experiment_keys!` in `config/mod.rs`, never by hand.
pub struct Key {
    /// The CLI flag (`--batch-size`), fragment key and result-file field.
    pub name: &'static str,
    pub help: &'static str,
    pub family: Family,
    pub control: Control,
    /// A bare `--flag` on the command line means `true`.
    pub flag: bool,
    /// What a bad value is said not to be ("a whole number").
    pub expected: &'static str,
    pub(super) set: fn(&mut ExperimentConfig, &str) -> Option<()>,
    pub(super) get: fn(&ExperimentConfig) -> Option<String>,
    /// Puts the field back to its default (for keys the model ignores).
    pub(super) reset: fn(&mut ExperimentConfig),
    /// A default that depends on other keys (the model's data set), applied when absent.
    pub(super) derive: Option<fn(&mut ExperimentConfig)>,
}

impl Key {
    /// The value `config` has for this key, as `to_pairs` spells it (`None`: absent).
    pub fn value_of(&self, config: &ExperimentConfig) -> Option<String> {
        (self.get)(config)
    }

    /// `text` as this key prints it once parsed (`0.010` → `0.01`); `None` when it is not a
    /// value of this key. An absent value (an unset limit) is the empty text.
    pub fn canonical(&self, text: &str) -> Option<String> {
        let mut c = ExperimentConfig::default();
        (self.set)(&mut c, text)?;
        Some((self.get)(&c).unwrap_or_default())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name)
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// A config field's type, as text.
pub trait Value: Sized {
    const EXPECTED: &'static str;
    const CONTROL: Control = Control::Text;
    const FLAG: bool = false;
    fn parse(text: &str) -> Option<Self>;
    /// `None`: the key is left out (an unset limit, no joint sets).
    fn format(&self) -> Option<String>;
}

/// Numbers: parsed as Rust parses them, printed as Rust prints them (shortest round trip).
macro_rules! number_value {
    ($($ty:ty => $expected:literal),*) => {$(
        impl Value for $ty {
            const EXPECTED: &'static str = $expected;
            fn parse(text: &str) -> Option<Self> {
                text.trim().parse().ok()
            }
            fn format(&self) -> Option<String> {
                Some(self.to_string())
            }
        }
    )*};
}

number_value!(usize => "a whole number", u64 => "a whole number", f64 => "a number");

impl Value for bool {
    const EXPECTED: &'static str = "true or false";
    const CONTROL: Control = Control::Choice(&["false", "true"]);
    const FLAG: bool = true;
    fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "" | "1" | "true" | "yes" | "on" => Some(true),
            "0" | "false" | "no" | "off" => Some(false),
            _ => None,
        }
    }
    fn format(&self) -> Option<String> {
        Some(self.to_string())
    }
}

impl Value for Option<usize> {
    const EXPECTED: &'static str = "a whole number";
    fn parse(text: &str) -> Option<Self> {
        usize::parse(text).map(Some)
    }
    fn format(&self) -> Option<String> {
        self.map(|n| n.to_string())
    }
}

/// A comma-separated list (`0,1,2`); empty text is the empty list.
impl Value for Vec<usize> {
    const EXPECTED: &'static str = "a comma-separated list of whole numbers";
    fn parse(text: &str) -> Option<Self> {
        if text.trim().is_empty() {
            return Some(Vec::new());
        }
        text.split(',').map(usize::parse).collect()
    }
    fn format(&self) -> Option<String> {
        Some(self.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))
    }
}

/// A comma-separated list of numbers (`0,0.5,1`); empty text is the empty list.
impl Value for Vec<f64> {
    const EXPECTED: &'static str = "a comma-separated list of numbers";
    fn parse(text: &str) -> Option<Self> {
        if text.trim().is_empty() {
            return Some(Vec::new());
        }
        text.split(',').map(f64::parse).collect()
    }
    fn format(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.iter().map(|v| v.to_string()).collect::<Vec<_>>().join(","))
    }
}

/// Seeds: a list of whole numbers and inclusive ranges (`0-4`, `0,3,7`, `1-3,9`); empty text is
/// the empty list. Printed back with runs of three or more as ranges.
impl Value for Vec<u64> {
    const EXPECTED: &'static str = "seeds as a list or range, e.g. 0-4 or 0,3,7";
    fn parse(text: &str) -> Option<Self> {
        let mut seeds = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match part.split_once('-') {
                Some((from, to)) => {
                    let (from, to) = (u64::parse(from)?, u64::parse(to)?);
                    // Bounded here so a typo (`0-9999999`) is an error, not a long loop.
                    if to < from || to - from >= 1024 {
                        return None;
                    }
                    seeds.extend(from..=to);
                }
                None => seeds.push(u64::parse(part)?),
            }
        }
        Some(seeds)
    }
    fn format(&self) -> Option<String> {
        if self.is_empty() {
            return None;
        }
        let mut parts = Vec::new();
        let mut at = 0;
        while at < self.len() {
            let mut end = at;
            while end + 1 < self.len() && self[end + 1] == self[end].wrapping_add(1) {
                end += 1;
            }
            if end - at >= 2 {
                parts.push(format!("{}-{}", self[at], self[end]));
            } else {
                parts.extend(self[at..=end].iter().map(u64::to_string));
            }
            at = end + 1;
        }
        Some(parts.join(","))
    }
}

/// Joint sets: units separated by ',', sets by ';' (`layer2,layer3;layer1,layer4`).
impl Value for Vec<Vec<String>> {
    const EXPECTED: &'static str = "sets of unit names";
    fn parse(text: &str) -> Option<Self> {
        Some(
            text.split(';')
                .filter(|s| !s.trim().is_empty())
                .map(|set| set.split(',').map(|u| u.trim().to_string()).collect())
                .collect(),
        )
    }
    fn format(&self) -> Option<String> {
        (!self.is_empty()).then(|| self.iter().map(|s| s.join(",")).collect::<Vec<_>>().join(";"))
    }
}

/// Spelled by `DatasetKind` itself, which also reads a few aliases (`cifar-10`).
impl Value for DatasetKind {
    const EXPECTED: &'static str = "mnist or cifar10";
    const CONTROL: Control = Control::Choice(&["mnist", "cifar10"]);
    fn parse(text: &str) -> Option<Self> {
        DatasetKind::parse(text)
    }
    fn format(&self) -> Option<String> {
        Some(self.name().to_string())
    }
}
