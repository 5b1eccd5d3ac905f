//! Tests of the view models.

use super::*;

#[test]
fn colours_span_the_palette() {
    assert_eq!(colour(Palette::Reds, 0.0), "#fff5f0");
    assert_eq!(colour(Palette::Reds, 1.0), "#67000d");
    assert_eq!(colour(Palette::Blues, 2.0), "#08306b");
    assert_eq!(colour(Palette::Blues, f64::NAN), "#f7fbff");
}

/// The colour maps through a colour-vision-deficiency simulator (Machado, Oliveira & Fernandes
/// 2009, full severity): each ramp stays ordered by lightness for protanopes, deuteranopes
/// and tritanopes, and the "not finite" colour stays apart from every ramp colour (its cells
/// also carry the text "n/f").
#[test]
fn colour_maps_stay_readable_for_colour_blind_viewers() {
    const SIMULATORS: [(&str, [[f64; 3]; 3]); 3] = [
        (
            "protanopia",
            [
                [0.152286, 1.052583, -0.204868],
                [0.114503, 0.786281, 0.099216],
                [-0.003882, -0.048116, 1.051998],
            ],
        ),
        (
            "deuteranopia",
            [
                [0.367322, 0.860646, -0.227968],
                [0.280085, 0.672501, 0.047413],
                [-0.011820, 0.042940, 0.968881],
            ],
        ),
        (
            "tritanopia",
            [
                [1.255528, -0.076749, -0.178779],
                [-0.078411, 0.930809, 0.147602],
                [0.004733, 0.691367, 0.303900],
            ],
        ),
    ];
    let linear = |hex: &str| -> [f64; 3] {
        let v = |i: usize| {
            let c = u8::from_str_radix(&hex[1 + 2 * i..3 + 2 * i], 16).unwrap() as f64 / 255.0;
            if c <= 0.04045 {
                c / 12.92
            } else {
                ((c + 0.055) / 1.055).powf(2.4)
            }
        };
        [v(0), v(1), v(2)]
    };
    let simulate = |m: &[[f64; 3]; 3], c: [f64; 3]| -> [f64; 3] {
        let row = |r: &[f64; 3]| (r[0] * c[0] + r[1] * c[1] + r[2] * c[2]).clamp(0.0, 1.0);
        [row(&m[0]), row(&m[1]), row(&m[2])]
    };
    let lightness = |c: [f64; 3]| 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
    for (name, m) in &SIMULATORS {
        for palette in [Palette::Reds, Palette::Blues] {
            let ramp: Vec<[f64; 3]> = (0..=20)
                .map(|i| simulate(m, linear(&colour(palette, i as f64 / 20.0))))
                .collect();
            for pair in ramp.windows(2) {
                assert!(
                    lightness(pair[1]) < lightness(pair[0]),
                    "{name}: {palette:?} is not ordered by lightness"
                );
            }
            let special = simulate(m, linear(NON_FINITE_COLOUR));
            let nearest = ramp
                .iter()
                .map(|c| (0..3).map(|i| (c[i] - special[i]).powi(2)).sum::<f64>().sqrt())
                .fold(f64::INFINITY, f64::min);
            assert!(
                nearest > 0.05,
                "{name}: the n/f colour is {nearest} from {palette:?}"
            );
        }
    }
}

#[test]
fn ticks_are_round() {
    assert_eq!(ticks(0.0, 1.0, 5), vec![0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
    assert_eq!(ticks(0.0, 100.0, 4), vec![0.0, 25.0, 50.0, 75.0, 100.0]);
    assert_eq!(ticks(1.0, 1.0, 4), vec![1.0]);
}

#[test]
fn transposition_and_csv() {
    let map = HeatmapData {
        id: "error",
        title: "t".into(),
        rows: vec!["a".into(), "b".into()],
        columns: vec!["ReRnd".into(), "0".into(), "1".into()],
        values: vec![
            vec![Some(0.5), Some(0.25), None],
            vec![None, Some(1.0), Some(0.0)],
        ],
        palette: Palette::Reds,
        format: Format::Percent,
        units_as_columns: false,
        spread: Vec::new(),
    };
    let t = map.transposed();
    assert_eq!(t.rows.len(), 3);
    assert_eq!(t.values[1][0], Some(0.25));
    assert_eq!(map.to_csv(), "row,ReRnd,0,1\na,0.5,0.25,\nb,,1,0\n");
    assert_eq!(csv_text("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
    assert_eq!(csv_text("+1"), "'+1");
    assert_eq!(csv_text("-2"), "'-2");
    assert_eq!(csv_text("@SUM(A1)"), "'@SUM(A1)");
    assert_eq!(csv_text("a\rb"), "\"a\rb\"");
    assert_eq!(csv_text("\tx"), "'\tx");
    assert_eq!(csv_text("layer1"), "layer1");
    assert_eq!(map.domain(), (0.0, 1.0));
}

#[test]
fn joint_sets_get_their_own_map() {
    let mut result: crate::engine::ResultFile = serde_json::from_value(serde_json::json!({
        "format": "layerlab-result", "version": 1,
        "config": crate::engine::ExperimentConfig::from_pairs([("depth", "1"), ("epochs", "1"), ("checkpoints", "0,1"), ("joint", "layer1,layer2")]).unwrap(),
        "units": ["layer1", "layer2"], "checkpoints": [0, 1], "final_test_error": 0.1, "history": [],
        "robustness": {"rerandomized": [0.9, 0.8], "reinitialized": [[0.5, 0.1], [0.12, 0.1]], "full_model": [0.9, 0.1],
            "joint": [{"units": ["layer1", "layer2"], "checkpoint": 0, "test_error": 0.88}, {"units": ["layer1", "layer2"], "checkpoint": 1, "test_error": 0.1}],
            "joint_rerandomized": [{"units": ["layer1", "layer2"], "test_error": 0.9}]},
        "distance": {"l2_relative": [[0.0, 0.1], [0.0, 0.1]], "linf": [[0.0, 0.1], [0.0, 0.1]], "rerandomized_l2_relative": [1.0, 1.0], "rerandomized_linf": [1.0, 1.0]},
        "timing": {"train_seconds": 1.0, "sweep_seconds": 1.0, "samples_per_second": 1.0, "backend": "cpu"},
        "class_names": ["a", "b"], "per_class": {"trained": [], "rerandomized": [], "reinitialized": [], "full_model": []},
        "trained_epochs": 1.0, "stopped_early": false, "train_examples": 10, "test_examples": 10, "parameter_count": 1
    }))
    .unwrap();
    let map = joint_map(&result).expect("a joint set gives a map");
    assert_eq!(map.rows, ["layer1+layer2"]);
    assert_eq!(map.columns, ["ReRnd", "0", "1"]);
    assert_eq!(map.values, [[Some(0.9), Some(0.88), Some(0.1)]]);
    // A sweep stopped before the joint cells: they are pending, not "not finite".
    result.robustness.joint[1].test_error = f64::NAN;
    result.sweep_cells_done = Some(7);
    assert_eq!(joint_map(&result).unwrap().values[0][2], None);
    result.robustness.joint.clear();
    result.robustness.joint_rerandomized.clear();
    assert!(joint_map(&result).is_none(), "no joint sets, no map");
}

/// A two-unit, one-checkpoint result with an interpolation at α = 0, 0.5, 1, for `seed`.
fn path_result(seed: u64, layer1_at: [f64; 3], extra: &[(&str, &str)]) -> crate::engine::ResultFile {
    let mut pairs = vec![
        ("depth", "1"),
        ("epochs", "1"),
        ("checkpoints", "0"),
        ("interpolation", "0,0.5,1"),
    ];
    pairs.extend_from_slice(extra);
    let mut config = crate::engine::ExperimentConfig::from_pairs(pairs).unwrap();
    config.seed = seed;
    let mut result: crate::engine::ResultFile = serde_json::from_value(serde_json::json!({
        "format": "layerlab-result", "version": 2, "config": config,
        "units": ["layer1", "layer2"], "checkpoints": [0], "final_test_error": 0.1, "history": [],
        "robustness": {"rerandomized": [0.9, 0.8], "reinitialized": [[layer1_at[0]], [0.12]], "full_model": [0.9], "joint": []},
        "distance": {"l2_relative": [[0.0], [0.0]], "linf": [[0.0], [0.0]], "rerandomized_l2_relative": [1.0, 1.0], "rerandomized_linf": [1.0, 1.0]},
        "timing": {"train_seconds": 1.0, "sweep_seconds": 1.0, "samples_per_second": 1.0, "backend": "cpu"},
        "class_names": ["a", "b"], "per_class": {"trained": [], "rerandomized": [], "reinitialized": [], "full_model": []},
        "trained_epochs": 1.0, "stopped_early": false, "train_examples": 10, "test_examples": 10, "parameter_count": 1
    }))
    .unwrap();
    result.interpolation = Some(crate::engine::result::Interpolation::new(
        vec![0.0, 0.5, 1.0],
        vec![layer1_at.to_vec(), vec![0.12, 0.1, 0.1]],
        0.1,
        0.05,
    ));
    result.check_shape().unwrap();
    result
}

#[test]
fn the_interpolation_gets_its_own_map_with_alpha_columns() {
    let result = path_result(0, [0.9, 0.4, 0.1], &[]);
    let map = interpolation_map(&result).expect("α values give a map");
    assert_eq!(map.rows, ["layer1", "layer2"]);
    assert_eq!(map.columns, ["α=0", "α=0.5", "α=1"]);
    assert_eq!(map.values[0], [Some(0.9), Some(0.4), Some(0.1)]);
    assert!(map.spread.is_empty(), "one seed, no spread");
    let i = result.interpolation.as_ref().unwrap();
    assert_eq!(
        i.criticality,
        vec![1.0, 0.0],
        "layer1 must travel all the way, layer2 not at all"
    );
    let mut without = result.clone();
    without.interpolation = None;
    assert!(interpolation_map(&without).is_none());
}

#[test]
fn a_multi_seed_result_shows_the_mean_and_each_cells_spread() {
    let extra = [("seeds", "0,1")];
    let config = crate::engine::ExperimentConfig::from_pairs(
        [
            ("depth", "1"),
            ("epochs", "1"),
            ("checkpoints", "0"),
            ("interpolation", "0,0.5,1"),
        ]
        .into_iter()
        .chain(extra),
    )
    .unwrap();
    let seeds = vec![
        path_result(0, [0.5, 0.3, 0.1], &[]),
        path_result(1, [0.7, 0.5, 0.1], &[]),
    ];
    let result = crate::engine::result::combine_seeds(&config, seeds);
    result.check_shape().unwrap();
    let error = error_map(&result);
    assert_eq!(error.values[0][1], Some(0.6), "the mean of 0.5 and 0.7");
    let spread = error.spread_at(0, 1).expect("each mean has its spread");
    assert_eq!((spread.min, spread.max, spread.seeds), (0.5, 0.7, 2));
    assert!((spread.std - 0.2f64.hypot(0.0) / 2f64.sqrt()).abs() < 1e-12);
    assert!(error.exact_text(0, 1, 0.6).contains("over 2 seeds"));
    // Transposed maps carry their spread along.
    assert_eq!(error.transposed().spread_at(1, 0), Some(spread));
    let path = interpolation_map(&result).unwrap();
    assert_eq!(path.values[0][1], Some(0.4));
    assert_eq!(path.spread_at(0, 1).map(|s| (s.min, s.max)), Some((0.3, 0.5)));
    let d = detail(&result, 0, 1, 0.05).unwrap();
    assert_eq!(d.spread, Some(spread));
    assert_eq!(d.critical_in, Some((2, 2)), "layer1 is critical in both seeds");
    assert_eq!(detail(&result, 1, 1, 0.05).unwrap().critical_in, Some((0, 2)));
}
