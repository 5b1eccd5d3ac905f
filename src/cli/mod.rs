//! The native `layerlab` command.
//!
//! Flags are the config's keys (see [`crate::engine::config::KEYS`]) plus a few that only make
//! sense here ([`CLI_OPTIONS`]). Parsing goes through the same `ExperimentConfig::from_pairs` as
//! the page's URL fragment. (Hand-rolled rather than clap: the flags are data, the key table, and
//! its error messages are the ones the page shows for the same keys.)

use crate::engine::config::{self, ExperimentConfig, KEYS};
use crate::engine::data::files;
use crate::engine::events::clock;
use crate::engine::presets::{self, PRESETS};
use crate::engine::result::ResultFile;
use crate::engine::study::{self, StudyPlan, run_study};
use crate::engine::train::{Driver, Event, run_experiment};
use crate::report;
use burn::tensor::Device;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::Instant;

/// Exit status for bad arguments or bad input files.
pub const EXIT_USAGE: i32 = 2;
/// Exit status for a failure while running.
pub const EXIT_FAILURE: i32 = 1;

/// A failure with its exit status; the message is one line.
#[derive(Debug)]
pub struct CliError {
    pub code: i32,
    pub message: String,
}

fn usage(message: impl Into<String>) -> CliError {
    CliError {
        code: EXIT_USAGE,
        message: message.into(),
    }
}

/// A flag of the command line alone (not an experiment key).
pub struct CliOption {
    pub name: &'static str,
    pub help: &'static str,
    /// A bare `--flag` means `true`.
    pub flag: bool,
}

pub const CLI_OPTIONS: &[CliOption] = &[
    CliOption {
        name: "data",
        help: "folder (or CIFAR-10 archive) holding the data set's files",
        flag: false,
    },
    CliOption {
        name: "out",
        help: "write the result file here (JSON)",
        flag: false,
    },
    CliOption {
        name: "preset",
        help: "start from a named preset (see `layerlab presets`); later flags override it",
        flag: false,
    },
    CliOption {
        name: "threshold",
        help: "error increase that makes a unit critical (default 0.05)",
        flag: false,
    },
    CliOption {
        name: "quiet",
        help: "no progress bar",
        flag: true,
    },
];

/// Options of one `run` invocation.
#[derive(Debug)]
pub struct RunArgs {
    pub config: ExperimentConfig,
    pub data: PathBuf,
    pub out: Option<PathBuf>,
    pub threshold: f64,
    pub quiet: bool,
}

fn is_boolean(key: &str) -> bool {
    config::key(key).is_some_and(|k| k.flag) || CLI_OPTIONS.iter().any(|o| o.name == key && o.flag)
}

/// Options of one `study` invocation.
#[derive(Debug)]
pub struct StudyArgs {
    pub plan: StudyPlan,
    pub data: PathBuf,
    pub out: Option<PathBuf>,
    pub threshold: f64,
    pub quiet: bool,
}

/// The flags of `run` and `study`, before they become a config.
struct Flags {
    /// The preset's pairs, then the flags' (later ones win).
    pairs: Vec<(String, String)>,
    data: PathBuf,
    out: Option<PathBuf>,
    threshold: f64,
    quiet: bool,
}

/// Parses `run`'s arguments (everything after `run`).
pub fn parse_run(args: &[String]) -> Result<RunArgs, CliError> {
    let flags = parse_flags(args)?;
    let config = ExperimentConfig::from_pairs(flags.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| usage(e.to_string()))?;
    Ok(RunArgs {
        config,
        data: flags.data,
        out: flags.out,
        threshold: flags.threshold,
        quiet: flags.quiet,
    })
}

/// Parses `study`'s arguments: a study key given a comma-separated list (`--depth 2,3,5,8`)
/// is an axis of the grid; every other flag is shared by all runs.
pub fn parse_study(args: &[String]) -> Result<StudyArgs, CliError> {
    let flags = parse_flags(args)?;
    let is_axis = |k: &str, v: &str| study::AXIS_KEYS.contains(&k) && v.contains(',');
    let axes: Vec<(&str, Vec<&str>)> = flags
        .pairs
        .iter()
        .filter(|(k, v)| is_axis(k, v))
        .map(|(k, v)| (k.as_str(), v.split(',').map(str::trim).collect()))
        .collect();
    let base: Vec<(&str, &str)> = flags
        .pairs
        .iter()
        .filter(|(k, v)| !is_axis(k, v))
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let plan = StudyPlan::new(&base, &axes).map_err(|e| usage(e.to_string()))?;
    Ok(StudyArgs {
        plan,
        data: flags.data,
        out: flags.out,
        threshold: flags.threshold,
        quiet: flags.quiet,
    })
}

fn parse_flags(args: &[String]) -> Result<Flags, CliError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut data = None;
    let mut out = None;
    let mut threshold = report::DEFAULT_THRESHOLD;
    let mut quiet = false;
    let mut preset_pairs: &[(&str, &str)] = &[];
    let mut i = 0;
    while i < args.len() {
        let arg = &args[i];
        let Some(flag) = arg.strip_prefix("--") else {
            return Err(usage(format!(
                "unexpected argument '{arg}' (options start with --)"
            )));
        };
        let (key, value) = match flag.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => {
                let next = args.get(i + 1).filter(|n| !n.starts_with("--"));
                match next {
                    Some(v) => {
                        i += 1;
                        (flag.to_string(), v.clone())
                    }
                    None if is_boolean(flag) => (flag.to_string(), "true".to_string()),
                    None => return Err(usage(format!("option '--{flag}' needs a value"))),
                }
            }
        };
        i += 1;
        match key.as_str() {
            "data" => data = Some(PathBuf::from(value)),
            "out" => out = Some(PathBuf::from(value)),
            "threshold" => {
                threshold = value
                    .parse()
                    .ok()
                    .filter(|t: &f64| (0.0..=1.0).contains(t))
                    .ok_or_else(|| {
                        usage(format!(
                            "option '--threshold': '{value}' is not a number in [0, 1]"
                        ))
                    })?
            }
            "quiet" => quiet = value != "false",
            "preset" => {
                let preset = presets::preset(&value).ok_or_else(|| {
                    let names: Vec<&str> = PRESETS.iter().map(|p| p.name).collect();
                    usage(format!("unknown preset '{value}' (one of {})", names.join(", ")))
                })?;
                preset_pairs = preset.pairs;
            }
            _ if config::key(&key).is_some() => pairs.push((key, value)),
            _ => return Err(usage(format!("unknown option '--{key}' (see layerlab --help)"))),
        }
    }
    let all: Vec<(String, String)> = preset_pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .chain(pairs)
        .collect();
    let data = data.ok_or_else(|| usage("missing --data DIR (the folder holding the data set's files)"))?;
    Ok(Flags {
        pairs: all,
        data,
        out,
        threshold,
        quiet,
    })
}

/// Progress on stderr: a redrawn bar on a terminal, a line per epoch otherwise.
struct CliDriver {
    quiet: bool,
    terminal: bool,
    started: Instant,
    last_draw: Option<Instant>,
    steps_per_epoch: usize,
    epochs: usize,
    loss: Option<f32>,
}

impl CliDriver {
    fn draw(&mut self, line: &str) {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r\x1b[2K{line}");
        let _ = err.flush();
    }

    fn finish_line(&mut self) {
        if self.terminal && self.last_draw.is_some() {
            eprintln!();
        }
        self.last_draw = None;
    }
}

impl CliDriver {
    fn new(quiet: bool, epochs: usize) -> Self {
        Self {
            quiet,
            terminal: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last_draw: None,
            steps_per_epoch: 1,
            epochs,
            loss: None,
        }
    }
}

impl Driver for CliDriver {
    fn event(&mut self, event: Event) {
        if self.quiet {
            return;
        }
        match event {
            Event::Seed { index, count, seed } => {
                self.finish_line();
                eprintln!("seed {seed} ({} of {count})", index + 1);
            }
            Event::StudyRun { index, count, label } => {
                self.finish_line();
                eprintln!("study run {} of {count}: {label}", index + 1);
            }
            Event::Started {
                parameter_count,
                train_examples,
                test_examples,
                steps_per_epoch,
                units,
                ..
            } => {
                self.steps_per_epoch = steps_per_epoch;
                eprintln!(
                    "{} parameters in {} units ({}); {train_examples} training and {test_examples} test examples",
                    parameter_count,
                    units.len(),
                    units.join(", ")
                );
            }
            Event::Step {
                epoch,
                done_steps,
                total_steps,
                samples_per_second,
            } => {
                if !self.terminal {
                    return;
                }
                let now = Instant::now();
                if self
                    .last_draw
                    .is_some_and(|t| now.duration_since(t).as_millis() < 100)
                    && done_steps < total_steps
                {
                    return;
                }
                self.last_draw = Some(now);
                let fraction = done_steps as f64 / total_steps.max(1) as f64;
                let filled = (fraction * 30.0) as usize;
                let bar: String = (0..30).map(|i| if i < filled { '█' } else { '·' }).collect();
                let elapsed = self.started.elapsed().as_secs_f64();
                let eta = if done_steps > 0 {
                    elapsed / done_steps as f64 * (total_steps - done_steps) as f64
                } else {
                    0.0
                };
                let steps_per_second = done_steps as f64 / elapsed.max(1e-9);
                let loss = self.loss.map(|l| format!("  loss {l:.4}")).unwrap_or_default();
                let line = format!(
                    "train {bar} {:>3.0}%  epoch {epoch}/{}  {done_steps}/{total_steps} steps  {:.1} steps/s  {:.0} ex/s  ETA {}{loss}",
                    fraction * 100.0,
                    self.epochs,
                    steps_per_second,
                    samples_per_second,
                    clock(eta)
                );
                self.draw(&line);
            }
            Event::Loss { loss, .. } => self.loss = Some(loss),
            Event::Epoch(record) if record.epoch == 0 => {
                eprintln!(
                    "epoch   0: test error {:.2}% (untrained)",
                    record.test_error * 100.0
                );
            }
            Event::Epoch(record) => {
                self.finish_line();
                eprintln!(
                    "epoch {:>3}: train loss {:.4}, test error {:.2}%",
                    record.epoch,
                    record.train_loss,
                    record.test_error * 100.0
                );
            }
            Event::Checkpoint { .. } => {}
            Event::SweepStarted { cells } => {
                self.finish_line();
                eprintln!("reset sweep: {cells} evaluations");
            }
            Event::SweepCell { done, total, .. } => {
                if self.terminal {
                    self.last_draw = Some(Instant::now());
                    self.draw(&format!("sweep {done}/{total}"));
                }
                if done == total {
                    self.finish_line();
                }
            }
        }
    }

    fn stop_requested(&mut self) -> bool {
        false
    }

    async fn pause(&mut self) {}
}

fn help() -> String {
    let mut s = String::from(
        "layerlab: which layers of a network matter? (\"Are All Layers Created Equal?\")\n\n\
         Usage:\n  layerlab run --data DIR [--preset NAME] [--KEY VALUE]...   train, sweep, print, save\n  \
         layerlab study --data DIR --KEY V1,V2,... [--KEY VALUE]...  a grid of runs, e.g. --depth 2,3,5,8\n  \
         layerlab show FILE [--threshold T]                       print a saved result\n  \
         layerlab link FILE                                       its share-link fragment (#r=…)\n  \
         layerlab presets                                         list presets\n\n\
         Example:\n  layerlab run --model fcn --depth 3 --width 256 --dataset mnist --data data/mnist \\\n    \
         --epochs 5 --batch-size 128 --optimizer sgd --lr 0.01 --momentum 0.9 \\\n    \
         --checkpoints 0,1,2,3,5 --seed 0 --out result.json\n\nExperiment options (also the page's URL keys):\n",
    );
    for key in KEYS {
        s.push_str(&format!("  --{:<16} {}\n", key.name, key.help));
    }
    s.push_str("\nCommand-line options:\n");
    for option in CLI_OPTIONS {
        s.push_str(&format!("  --{:<16} {}\n", option.name, option.help));
    }
    s
}

/// Writes to stdout; a closed pipe (`layerlab show f | head`) is not an error worth a panic.
fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

/// A failure of the engine: the device's is a failure, anything else bad input.
fn engine_failure(e: crate::engine::EngineError) -> CliError {
    CliError {
        code: match e {
            crate::engine::EngineError::Device(_) => EXIT_FAILURE,
            _ => EXIT_USAGE,
        },
        message: e.to_string(),
    }
}

/// Writes the result file when `--out` asked for one.
fn write_result(result: &ResultFile, path: Option<&PathBuf>) -> Result<(), CliError> {
    if let Some(path) = path {
        std::fs::write(path, result.to_json()).map_err(|e| CliError {
            code: EXIT_FAILURE,
            message: format!("{}: cannot be written: {e}", path.display()),
        })?;
        out(&format!("result written to {}\n", path.display()));
    }
    Ok(())
}

/// Runs the command line; returns the exit status.
pub fn main_with(args: &[String]) -> Result<(), CliError> {
    match args.first().map(String::as_str) {
        None | Some("help") | Some("--help") | Some("-h") => {
            out(&help());
            Ok(())
        }
        Some("presets") => {
            for preset in PRESETS {
                out(&format!("{:<14} {}\n", preset.name, preset.description));
            }
            Ok(())
        }
        Some("link") => {
            // The share-link payload of a result file: `#r=` plus this opens it in the page.
            let path = args.get(1).ok_or_else(|| usage("usage: layerlab link FILE"))?;
            let text =
                std::fs::read_to_string(path).map_err(|e| usage(format!("{path}: cannot be read: {e}")))?;
            let result = ResultFile::from_json(&text).map_err(|e| usage(format!("{path}: {e}")))?;
            out(&format!("#r={}\n", crate::engine::link::encode(&result)));
            Ok(())
        }
        Some("show") => {
            let path = args.get(1).ok_or_else(|| usage("usage: layerlab show FILE"))?;
            let mut threshold = report::DEFAULT_THRESHOLD;
            if let Some(pos) = args.iter().position(|a| a == "--threshold") {
                threshold = args
                    .get(pos + 1)
                    .and_then(|v| v.parse().ok())
                    .ok_or_else(|| usage("option '--threshold' needs a number"))?;
            }
            let text =
                std::fs::read_to_string(path).map_err(|e| usage(format!("{path}: cannot be read: {e}")))?;
            let result = ResultFile::from_json(&text).map_err(|e| usage(format!("{path}: {e}")))?;
            out(&report::render_study(&result, threshold));
            Ok(())
        }
        Some("run") => {
            let run = parse_run(&args[1..])?;
            let data = files::load(run.config.dataset, &run.data).map_err(|e| usage(e.to_string()))?;
            let device = Device::flex();
            let mut driver = CliDriver::new(run.quiet, run.config.epochs);
            if !run.quiet {
                eprintln!("{}", run.config.label());
            }
            let result = pollster::block_on(run_experiment(
                &run.config,
                &data,
                &device,
                "cpu (flex)",
                &mut driver,
            ))
            .map_err(engine_failure)?;
            out(&format!("{}\n", report::render(&result, run.threshold)));
            out(&format!(
                "trained in {:.1} s ({:.0} examples/s), sweep in {:.1} s\n",
                result.timing.train_seconds, result.timing.samples_per_second, result.timing.sweep_seconds
            ));
            write_result(&result, run.out.as_ref())
        }
        Some("study") => {
            let study = parse_study(&args[1..])?;
            let first = &study.plan.configs[0];
            let data = files::load(first.dataset, &study.data).map_err(|e| usage(e.to_string()))?;
            let mut driver = CliDriver::new(study.quiet, first.epochs);
            let result = pollster::block_on(run_study(
                &study.plan,
                &data,
                &Device::flex(),
                "cpu (flex)",
                &mut driver,
            ))
            .map_err(engine_failure)?;
            out(&report::render_study(&result, study.threshold));
            write_result(&result, study.out.as_ref())
        }
        Some(other) => Err(usage(format!(
            "unknown command '{other}' (run, study, show, link, presets, help)"
        ))),
    }
}
