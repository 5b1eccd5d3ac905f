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
