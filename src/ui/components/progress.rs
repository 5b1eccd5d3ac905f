//! The run's progress: phase, a bar with steps/s and ETA, data download, sweep progress.

use crate::engine::events::clock;
use crate::ui::state::{LiveRun, Phase};
use yew::prelude::*;

#[derive(Properties, PartialEq)]
pub struct ProgressProps {
    pub run: LiveRun,
}

fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[function_component(Progress)]
pub fn progress(props: &ProgressProps) -> Html {
    let run = &props.run;
    let (fraction, detail) = match run.phase {
        Phase::Starting => (0.0, "starting the engine…".to_string()),
        Phase::LoadingData => match run.data {
            Some((loaded, total, cached)) => (
                loaded as f64 / total.max(1) as f64,
                format!(
                    "{} data: {} of {}",
                    if cached { "reading cached" } else { "downloading" },
                    megabytes(loaded),
                    megabytes(total)
                ),
            ),
            None => (0.0, "fetching the data manifest…".into()),
        },
        Phase::Warmup => (
            0.0,
            "preparing the model (the first steps compile GPU kernels and take longer)…".into(),
        ),
        Phase::Training | Phase::Stopping => {
            let eta = run.eta_seconds().map(clock).unwrap_or_else(|| "–".into());
            (
                run.done_steps as f64 / run.total_steps.max(1) as f64,
                format!(
                    "epoch {}/{} · step {}/{} · {:.1} steps/s · {:.0} examples/s · ETA {eta}",
                    run.epoch,
                    run.config.epochs,
                    run.done_steps,
                    run.total_steps,
                    run.steps_per_second(),
                    run.samples_per_second
                ),
            )
        }
        Phase::Sweeping | Phase::StoppingSweep => (
            run.sweep_done as f64 / run.sweep_total.max(1) as f64,
            format!(
                "reset sweep: {} of {} evaluations",
                run.sweep_done, run.sweep_total
            ),
        ),
        Phase::Done => (1.0, "finished".into()),
        Phase::Failed => (1.0, "the run did not finish".into()),
    };
    // A multi-seed run: the seed under way leads the line.
    let detail = match run.seed {
        Some((index, count, seed)) if run.phase.is_active() => {
            format!("seed {seed} ({} of {count}) · {detail}", index + 1)
        }
        _ => detail,
    };
    let detail = match &run.study_run {
        Some((index, count, label)) if run.phase.is_active() => {
            format!("run {} of {count} ({label}) · {detail}", index + 1)
        }
        _ => detail,
    };
    let percent = (fraction.clamp(0.0, 1.0) * 100.0).round();
    html! {
        <section class="progress" data-testid="progress" data-phase={run.phase.label()}>
            <div class="phase">{ run.phase.label() }</div>
            <div class="bar" role="progressbar" aria-valuemin="0" aria-valuemax="100" aria-valuenow={percent.to_string()}>
                <div class="fill" style={format!("width:{percent}%")}></div>
            </div>
            <div class="detail" data-testid="progress-detail">{ detail }</div>
        </section>
    }
}
