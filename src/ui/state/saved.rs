//! The saved-runs list and the two runs ticked for comparison.

/// How a saved run got there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunSource {
    /// Trained in this browser.
    Run,
    /// Opened from a file (or a link).
    File,
}

impl RunSource {
    /// As stored in IndexedDB (and shown in the list).
    pub fn name(self) -> &'static str {
        match self {
            RunSource::Run => "run",
            RunSource::File => "file",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "run" => Some(RunSource::Run),
            "file" => Some(RunSource::File),
            _ => None,
        }
    }
}

/// What the saved-runs list shows about a run (the result itself is loaded on demand).
#[derive(Clone, Debug, PartialEq)]
pub struct RunSummary {
    pub id: u32,
    pub name: String,
    /// Milliseconds since the epoch.
    pub saved_at: f64,
    /// The config's label ("fcn 3x256 · mnist · 2 epochs").
    pub label: String,
    pub dataset: String,
    pub final_error: f64,
    pub source: RunSource,
}

/// Saved runs, newest first, and the ones ticked for comparison (two at most).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SavedRuns {
    pub runs: Vec<RunSummary>,
    pub picked: Vec<u32>,
}

impl SavedRuns {
    pub fn name_of(&self, id: u32) -> Option<&str> {
        self.runs.iter().find(|s| s.id == id).map(|s| s.name.as_str())
    }

    pub fn added(&mut self, summary: RunSummary) {
        self.runs.insert(0, summary);
    }

    pub fn renamed(&mut self, id: u32, name: String) {
        if let Some(s) = self.runs.iter_mut().find(|s| s.id == id) {
            s.name = name;
        }
    }

    pub fn deleted(&mut self, id: u32) {
        self.runs.retain(|s| s.id != id);
        self.picked.retain(|&p| p != id);
    }

    /// Ticks or unticks `id`; a third tick drops the oldest.
    pub fn toggle_pick(&mut self, id: u32) {
        if let Some(at) = self.picked.iter().position(|&p| p == id) {
            self.picked.remove(at);
        } else {
            self.picked.push(id);
            if self.picked.len() > 2 {
                self.picked.remove(0);
            }
        }
    }
}
