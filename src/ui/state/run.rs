//! A run as it happens: the phase the worker last sent, and what its events said so far.

use crate::engine::ExperimentConfig;
use crate::engine::events::{Cell, Event};
use crate::engine::result::EpochRecord;
pub use crate::runtime::protocol::Phase;
use std::collections::HashMap;

#[derive(Clone, Debug, PartialEq)]
pub struct LiveRun {
    pub config: ExperimentConfig,
    pub phase: Phase,
    pub units: Vec<String>,
    pub checkpoints: Vec<usize>,
    pub parameter_count: usize,
    pub train_examples: usize,
    pub test_examples: usize,
    pub epoch: usize,
    pub done_steps: usize,
    pub total_steps: usize,
    pub samples_per_second: f64,
    /// `(loaded, total, from cache)` of the data download.
    pub data: Option<(u64, u64, bool)>,
    /// `(epoch progress, mean training loss)`.
    pub loss_points: Vec<(f64, f64)>,
    pub epochs: Vec<EpochRecord>,
    pub sweep_done: usize,
    pub sweep_total: usize,
    /// Sweep cells known so far.
    pub sweep_cells: HashMap<Cell, f64>,
    /// A multi-seed run: `(seed number from 0, seeds, seed)` of the seed under way.
    pub seed: Option<(usize, usize, u64)>,
    /// A study: `(run number from 0, runs, label)` of the run under way.
    pub study_run: Option<(usize, usize, String)>,
}

impl LiveRun {
    pub fn new(config: ExperimentConfig) -> Self {
        Self {
            config,
            phase: Phase::Starting,
            units: Vec::new(),
            checkpoints: Vec::new(),
            parameter_count: 0,
            train_examples: 0,
            test_examples: 0,
            epoch: 0,
            done_steps: 0,
            total_steps: 0,
            samples_per_second: 0.0,
            data: None,
            loss_points: Vec::new(),
            epochs: Vec::new(),
            sweep_done: 0,
            sweep_total: 0,
            sweep_cells: HashMap::new(),
            seed: None,
            study_run: None,
        }
    }

    /// Seconds left in training at the current speed.
    pub fn eta_seconds(&self) -> Option<f64> {
        if self.samples_per_second <= 0.0 || self.total_steps == 0 {
            return None;
        }
        let steps_left = self.total_steps.saturating_sub(self.done_steps) as f64;
        let examples_per_step = self.train_examples.min(self.config.batch_size).max(1) as f64;
        Some(steps_left * examples_per_step / self.samples_per_second)
    }

    pub fn steps_per_second(&self) -> f64 {
        self.samples_per_second / self.train_examples.min(self.config.batch_size).max(1) as f64
    }

    /// The Stop button: the page shows the stop at once; the worker confirms it.
    pub fn stop_requested(&mut self) {
        self.phase = match self.phase {
            Phase::Starting | Phase::LoadingData | Phase::Warmup | Phase::Training => Phase::Stopping,
            Phase::Sweeping => Phase::StoppingSweep,
            other => other,
        };
    }

    /// The phase the worker sent. A stop the page already shows is not undone by a message the
    /// worker sent before it saw the stop.
    pub fn entered(&mut self, next: Phase) {
        let stale = match self.phase {
            Phase::Stopping => matches!(next, Phase::LoadingData | Phase::Warmup | Phase::Training),
            Phase::StoppingSweep => next == Phase::Sweeping,
            Phase::Done | Phase::Failed => true,
            _ => false,
        };
        if !stale {
            self.phase = next;
        }
    }

    /// What an engine event adds (progress, curves, cells; never the phase).
    pub fn record(&mut self, event: Event) {
        match event {
            // Each seed reports like a run of its own: its curves and cells start afresh.
            Event::Seed { index, count, seed } => {
                *self = Self {
                    phase: self.phase,
                    data: self.data,
                    seed: Some((index, count, seed)),
                    study_run: self.study_run.take(),
                    ..Self::new(self.config.clone())
                };
            }
            Event::StudyRun { index, count, label } => {
                *self = Self {
                    phase: self.phase,
                    data: self.data,
                    study_run: Some((index, count, label)),
                    ..Self::new(self.config.clone())
                };
            }
            Event::Started {
                units,
                parameter_count,
                train_examples,
                test_examples,
                total_steps,
                ..
            } => {
                self.units = units;
                self.parameter_count = parameter_count;
                self.train_examples = train_examples;
                self.test_examples = test_examples;
                self.total_steps = total_steps;
            }
            Event::Step {
                epoch,
                done_steps,
                total_steps,
                samples_per_second,
            } => {
                self.epoch = epoch;
                self.done_steps = done_steps;
                self.total_steps = total_steps;
                self.samples_per_second = samples_per_second;
            }
            Event::Loss { epoch_progress, loss } => self.loss_points.push((epoch_progress, loss as f64)),
            // The loss curve comes from `Loss` events alone (windowed means); an epoch's mean
            // loss would put a cliff at every boundary. Epoch 0 is the untrained model's error.
            Event::Epoch(record) => self.epochs.push(record),
            Event::Checkpoint { epoch } => self.checkpoints.push(epoch),
            Event::SweepStarted { cells } => self.sweep_total = cells,
            Event::SweepCell {
                done,
                total,
                cell,
                test_error,
            } => {
                self.sweep_done = done;
                self.sweep_total = total;
                self.sweep_cells.insert(cell, test_error);
            }
        }
    }
}
