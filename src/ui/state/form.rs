//! The experiment form: each key's text as typed, and what it parses to. The fields, their
//! order, their controls and help all come from the config's key table.

use crate::engine::config::{ConfigError, ExperimentConfig, KEYS, Key, ModelKind};
use crate::engine::presets;

#[derive(Clone, Debug, PartialEq)]
pub struct Form {
    /// One text per entry of `KEYS`, in its order.
    values: Vec<String>,
    /// The form parsed, or why it does not parse.
    pub config: Result<ExperimentConfig, ConfigError>,
}

impl Form {
    /// The form showing `config`, every key spelled out.
    pub fn of(config: ExperimentConfig) -> Self {
        let values = KEYS
            .iter()
            .map(|k| k.value_of(&config).unwrap_or_default())
            .collect();
        Self {
            values,
            config: Ok(config),
        }
    }

    /// The form of preset `name`.
    pub fn preset(name: &str) -> Result<Self, ConfigError> {
        let preset = presets::preset(name).ok_or_else(|| ConfigError::UnknownPreset(name.into()))?;
        preset.config().map(Self::of)
    }

    /// The text of key `name` ("" for an unknown key).
    pub fn value(&self, name: &str) -> &str {
        KEYS.iter()
            .position(|k| k.name == name)
            .map(|at| self.values[at].as_str())
            .unwrap_or("")
    }

    /// Every key with its text.
    pub fn fields(&self) -> impl Iterator<Item = (&'static Key, &str)> {
        KEYS.iter().zip(self.values.iter().map(String::as_str))
    }

    /// The model the form names (the FCN while it names none), for which keys to show.
    pub fn model(&self) -> ModelKind {
        ModelKind::parse(self.value("model")).unwrap_or(ModelKind::Fcn)
    }

    /// Sets key `name` to `text` and parses the form again. A new model also picks its own data
    /// set and batch norm (unless the result would not parse).
    pub fn set(&mut self, name: &str, text: String) {
        let Some(at) = KEYS.iter().position(|k| k.name == name) else {
            return;
        };
        self.values[at] = text;
        if name == "model"
            && let Ok(config) = self.parse_without(&["dataset", "batch-norm"])
        {
            *self = Self::of(config);
            return;
        }
        self.config = self.parse_without(&[]);
    }

    fn parse_without(&self, left_out: &[&str]) -> Result<ExperimentConfig, ConfigError> {
        ExperimentConfig::from_pairs(
            self.fields()
                .filter(|(k, v)| !v.trim().is_empty() && !left_out.contains(&k.name))
                .map(|(k, v)| (k.name, v)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_holds_every_key_and_parses_what_it_shows() {
        let form = Form::preset("quick").unwrap();
        assert_eq!(form.fields().count(), KEYS.len());
        assert_eq!(form.value("train-limit"), "20000");
        assert_eq!(form.value("joint"), "", "no joint sets: an empty field");
        assert_eq!(form.parse_without(&[]), form.config);
        assert!(Form::preset("nope").is_err());
    }
}
