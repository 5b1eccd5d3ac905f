//! The reducer's tests.

use super::*;
use crate::engine::ExperimentConfig;
use crate::engine::events::{Cell, Event};

#[test]
fn model_change_picks_its_data_set() {
    let s = AppState::default().apply(Action::SetField {
        key: "model".into(),
        value: "vgg11".into(),
    });
    let c = s.form.config.clone().unwrap();
    assert_eq!(c.dataset.name(), "cifar10");
    assert_eq!(s.field("dataset"), "cifar10");
    let s = s.apply(Action::SetField {
        key: "lr".into(),
        value: "abc".into(),
    });
    assert!(s.form.config.is_err());
    assert!(!s.can_run());
}

#[test]
fn a_run_goes_through_its_phases_and_keeps_the_old_result_on_failure() {
    let mut s = AppState::default().apply(Action::WorkerReady);
    assert!(s.can_run());
    s = s.apply(Action::RunRequested);
    assert!(s.running());
    s = s.apply(Action::Message(FromWorker::Engine(Event::Started {
        units: vec!["layer1".into()],
        parameter_count: 10,
        train_examples: 100,
        test_examples: 10,
        steps_per_epoch: 1,
        total_steps: 2,
    })));
    s = s.apply(Action::Message(FromWorker::Phase(Phase::Training)));
    s = s.apply(Action::Message(FromWorker::Engine(Event::Step {
        epoch: 1,
        done_steps: 1,
        total_steps: 2,
        samples_per_second: 100.0,
    })));
    assert_eq!(s.run.as_ref().unwrap().phase, Phase::Training);
    s = s.apply(Action::StopRequested);
    assert_eq!(s.run.as_ref().unwrap().phase, Phase::Stopping);
    // The worker sent Training before it saw the stop: the stop shown stays.
    s = s.apply(Action::Message(FromWorker::Phase(Phase::Training)));
    assert_eq!(s.run.as_ref().unwrap().phase, Phase::Stopping);
    s = s.apply(Action::Message(FromWorker::Phase(Phase::Sweeping)));
    s = s.apply(Action::Message(FromWorker::Engine(Event::SweepCell {
        done: 1,
        total: 3,
        cell: Cell::Rerandomized { unit: 0 },
        test_error: 0.5,
    })));
    assert_eq!(s.run.as_ref().unwrap().phase, Phase::Sweeping);
    assert_eq!(s.run.as_ref().unwrap().sweep_cells.len(), 1);
    s = s.apply(Action::Message(FromWorker::Failed {
        message: "boom".into(),
        fatal: true,
    }));
    assert_eq!(s.run.as_ref().unwrap().phase, Phase::Failed);
    assert!(matches!(s.worker, WorkerStatus::Lost(_)));
    assert_eq!(s.notices.len(), 1);
}

/// A batch of frequent events (what the worker sends a few times a second) leaves the page's
/// state as the same events sent one by one.
#[test]
fn a_batch_of_events_equals_its_events_one_by_one() {
    let started = || {
        let s = AppState::default()
            .apply(Action::WorkerReady)
            .apply(Action::RunRequested);
        s.apply(Action::Message(FromWorker::Engine(Event::Started {
            units: vec!["layer1".into(), "layer2".into()],
            parameter_count: 10,
            train_examples: 100,
            test_examples: 10,
            steps_per_epoch: 4,
            total_steps: 8,
        })))
    };
    let events = vec![
        Event::Loss {
            epoch_progress: 0.25,
            loss: 2.0,
        },
        Event::Loss {
            epoch_progress: 0.5,
            loss: 1.5,
        },
        Event::Step {
            epoch: 1,
            done_steps: 2,
            total_steps: 8,
            samples_per_second: 100.0,
        },
        Event::SweepCell {
            done: 1,
            total: 6,
            cell: Cell::Rerandomized { unit: 1 },
            test_error: 0.5,
        },
    ];
    let batched = started().apply(Action::Message(FromWorker::Events(events.clone())));
    let one_by_one = events.into_iter().fold(started(), |s, event| {
        s.apply(Action::Message(FromWorker::Engine(event)))
    });
    let (batched, one_by_one) = (batched.run.unwrap(), one_by_one.run.unwrap());
    assert_eq!(batched.loss_points, vec![(0.25, 2.0), (0.5, 1.5)]);
    assert_eq!(batched.loss_points, one_by_one.loss_points);
    assert_eq!(batched.sweep_cells.len(), 1);
    assert_eq!(batched.sweep_cells.len(), one_by_one.sweep_cells.len());
    assert_eq!(batched.done_steps, one_by_one.done_steps);
}

#[test]
fn heavy_or_framed_run_links_wait_for_a_click() {
    let light = crate::ui::url::parse("#model=fcn&epochs=2&train-limit=2000&run=1");
    let s = AppState::default().apply(Action::LoadFragment(light.clone()));
    assert!(s.autorun && s.confirm_run.is_none());
    let heavy = crate::ui::url::parse("#model=vgg11&width-mult=1&epochs=100&run=1");
    let s = AppState::default().apply(Action::LoadFragment(heavy));
    assert!(!s.autorun);
    assert!(
        s.confirm_run.as_deref().unwrap().contains("heavier"),
        "{:?}",
        s.confirm_run
    );
    let s = s.apply(Action::ConfirmRun(true));
    assert!(s.autorun && s.confirm_run.is_none());
    let framed = AppState {
        framed: true,
        ..AppState::default()
    }
    .apply(Action::LoadFragment(light));
    assert!(!framed.autorun && framed.confirm_run.unwrap().contains("another site"));
}

#[test]
fn a_stop_during_the_sweep_is_its_own_phase() {
    let mut s = AppState::default()
        .apply(Action::WorkerReady)
        .apply(Action::RunRequested);
    s = s.apply(Action::Message(FromWorker::Phase(Phase::Sweeping)));
    s = s.apply(Action::Message(FromWorker::Engine(Event::SweepStarted {
        cells: 5,
    })));
    s = s.apply(Action::StopRequested);
    assert_eq!(s.run.as_ref().unwrap().phase, Phase::StoppingSweep);
    s = s.apply(Action::Message(FromWorker::Engine(Event::SweepCell {
        done: 2,
        total: 5,
        cell: Cell::Rerandomized { unit: 0 },
        test_error: f64::NAN,
    })));
    assert_eq!(s.run.as_ref().unwrap().phase, Phase::StoppingSweep);
    assert!(s.running());
}

#[test]
fn the_presentation_walks_maps_and_cells() {
    let result =
        Rc::new(crate::engine::link::decode(&crate::engine::link::encode(&sample_result())).unwrap());
    let mut s = AppState::default().apply(Action::Present(true));
    assert!(!s.presenting, "nothing to present yet");
    s = s.apply(Action::OpenResult {
        result,
        origin: Origin::Link,
    });
    s = s.apply(Action::Present(true));
    assert!(s.presenting && s.present_view == 0);
    s = s.apply(Action::PresentKey(PresentKey::Left));
    assert_eq!(s.present_view, 2);
    s = s.apply(Action::PresentKey(PresentKey::Down));
    assert_eq!((s.present_view, s.selected), (0, Some((0, 1))));
    s = s.apply(Action::PresentKey(PresentKey::Up));
    assert_eq!(s.selected, Some((2, 1)), "wraps to the fullmodel row");
    s = s.apply(Action::Present(false));
    assert!(!s.presenting);
}

/// A small valid result (one unit, one checkpoint).
fn sample_result() -> ResultFile {
    let config =
        ExperimentConfig::from_pairs([("depth", "1"), ("epochs", "1"), ("checkpoints", "0")]).unwrap();
    serde_json::from_value(serde_json::json!({
        "format": "layerlab-result", "version": 1, "config": config,
        "units": ["layer1", "layer2"], "checkpoints": [0], "final_test_error": 0.1, "history": [],
        "robustness": {"rerandomized": [0.9, 0.8], "reinitialized": [[0.5], [0.12]], "full_model": [0.9], "joint": []},
        "distance": {"l2_relative": [[0.0], [0.0]], "linf": [[0.0], [0.0]], "rerandomized_l2_relative": [1.0, 1.0], "rerandomized_linf": [1.0, 1.0]},
        "timing": {"train_seconds": 1.0, "sweep_seconds": 1.0, "samples_per_second": 1.0, "backend": "cpu"},
        "class_names": ["a", "b"], "per_class": {"trained": [], "rerandomized": [], "reinitialized": [], "full_model": []},
        "trained_epochs": 1.0, "stopped_early": false, "train_examples": 10, "test_examples": 10, "parameter_count": 1
    }))
    .unwrap()
}

#[test]
fn fragment_with_bad_config_is_reported_not_run() {
    let f = crate::ui::url::parse("#lr=fast&run=1");
    let s = AppState::default().apply(Action::LoadFragment(f));
    assert!(!s.autorun);
    assert!(s.notices[0].text.contains("lr"));
}

#[test]
fn a_first_visit_waits_for_isolation_before_the_cpu_engine() {
    use crate::runtime::protocol::{EngineKind, GpuAdapter};
    let pending = AppState {
        isolation: Isolation::Pending,
        ..AppState::default()
    };
    let s = pending.clone().apply(Action::GpuProbed(GpuAdapter::Software));
    assert_eq!(s.engine, None, "the CPU engine waits for the service worker");
    let reload = s.clone().apply(Action::ServiceWorkerInControl);
    assert_eq!((reload.isolation, reload.engine), (Isolation::Reload, None));
    let late = s.apply(Action::IsolationSettled);
    assert_eq!(
        (late.isolation, late.engine),
        (Isolation::Settled, Some(EngineKind::Cpu)),
        "no service worker in time: one thread, at once"
    );
    assert_eq!(
        late.apply(Action::ServiceWorkerInControl).isolation,
        Isolation::Settled,
        "settled stays settled"
    );
    // The WebGPU engine does not wait, and is not reloaded for the CPU's threads.
    let gpu = pending.clone().apply(Action::GpuProbed(GpuAdapter::Hardware));
    assert_eq!(gpu.engine, Some(EngineKind::Webgpu));
    assert_eq!(
        gpu.apply(Action::ServiceWorkerInControl).isolation,
        Isolation::Settled
    );
    // A result on the page (a dropped file) is not reloaded away.
    let shown = AppState {
        result: Some(Rc::new(sample_result())),
        ..pending
    }
    .apply(Action::GpuProbed(GpuAdapter::Software))
    .apply(Action::ServiceWorkerInControl);
    assert_eq!(
        (shown.isolation, shown.engine),
        (Isolation::Settled, Some(EngineKind::Cpu))
    );
}

#[test]
fn the_engine_loaded_follows_the_backend_and_the_adapter() {
    use crate::runtime::protocol::{EngineKind, GpuAdapter};
    let s = AppState::default();
    assert_eq!(s.engine, None, "nothing loads before the adapter is known");
    let s = s.apply(Action::GpuProbed(GpuAdapter::Software));
    assert_eq!((s.engine, s.worker_generation), (Some(EngineKind::Cpu), 1));
    let s = s.apply(Action::SetBackend(BackendChoice::Webgpu));
    assert_eq!((s.engine, s.worker_generation), (Some(EngineKind::Webgpu), 2));
    assert_eq!(s.worker, WorkerStatus::Loading);
    let s = s.apply(Action::SetBackend(BackendChoice::Webgpu));
    assert_eq!(s.worker_generation, 2, "the same engine is not reloaded");
    let s = s.apply(Action::SetBackend(BackendChoice::Auto));
    assert_eq!(
        s.engine,
        Some(EngineKind::Cpu),
        "auto trains on the CPU without a hardware adapter"
    );
    let hardware = AppState::default().apply(Action::GpuProbed(GpuAdapter::Hardware));
    assert_eq!(hardware.engine, Some(EngineKind::Webgpu));
    // No WebGPU at all: even `webgpu` gets the CPU engine, which says why it trains there.
    let none = AppState::default()
        .apply(Action::GpuProbed(GpuAdapter::Missing))
        .apply(Action::SetBackend(BackendChoice::Webgpu));
    assert_eq!(none.engine, Some(EngineKind::Cpu));
}

#[test]
fn picking_a_study_run_shows_its_result_and_settings() {
    use crate::engine::result::{Study, StudyAxis, StudyRun};
    let first = sample_result();
    let mut second = sample_result();
    second.config.lr = 0.5;
    second.final_test_error = 0.2;
    let axes = vec![StudyAxis {
        key: "lr".into(),
        values: vec!["0.01".into(), "0.5".into()],
    }];
    let runs = vec![
        StudyRun::of(vec!["0.01".into()], first),
        StudyRun::of(vec!["0.5".into()], second),
    ];
    let study = Rc::new(Study::into_result(axes, runs));
    let mut s = AppState::default().apply(Action::OpenResult {
        result: study.clone(),
        origin: Origin::Link,
    });
    assert!(
        Rc::ptr_eq(&s.shown_result().unwrap(), &study),
        "the first run is the file's own maps"
    );
    s = s.apply(Action::Select(Some((0, 1))));
    s = s.apply(Action::PickStudyRun(1));
    assert_eq!(s.shown_result().unwrap().final_test_error, 0.2);
    assert_eq!(
        s.form.value("lr"),
        "0.5",
        "the form holds the picked run's config"
    );
    assert_eq!(s.selected, None, "a cell of another run's map is not kept");
    s = s.apply(Action::PickStudyRun(7));
    assert_eq!(s.study_pick, 1, "a run the study lacks is ignored");
    // Another result resets the pick.
    s = s.apply(Action::OpenResult {
        result: Rc::new(sample_result()),
        origin: Origin::Link,
    });
    assert_eq!(s.study_pick, 0);
}
