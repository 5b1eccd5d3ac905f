//! Tests of the key table and the pairs it reads and writes.

use super::*;

#[test]
fn pairs_round_trip() {
    let c = ExperimentConfig::from_pairs([
        ("model", "fcn"),
        ("epochs", "7"),
        ("checkpoints", "0,7,2"),
        ("joint", "layer2,layer3;layer1,layer4"),
        ("train-limit", "100"),
    ])
    .unwrap();
    assert_eq!(c.checkpoints, vec![0, 2, 7]);
    assert_eq!(c.joint.len(), 2);
    let pairs = c.to_pairs();
    let again = ExperimentConfig::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    assert_eq!(c, again);
}

#[test]
fn model_dependent_defaults() {
    let r = ExperimentConfig::from_pairs([("model", "resnet18")]).unwrap();
    assert!(r.batch_norm);
    assert_eq!(r.dataset, DatasetKind::Cifar10);
    let v = ExperimentConfig::from_pairs([("model", "vgg11"), ("epochs", "10")]).unwrap();
    assert!(!v.batch_norm);
    assert_eq!(v.checkpoints, vec![0, 1, 2, 3, 10]);
}

#[test]
fn bad_values_are_named() {
    let e = ExperimentConfig::from_pairs([("lr", "fast")]).unwrap_err();
    assert_eq!(e.to_string(), "option 'lr': 'fast' is not a number");
    let e = ExperimentConfig::from_pairs([("epochs", "2"), ("checkpoints", "0,3")]).unwrap_err();
    assert!(e.to_string().contains("checkpoint 3"), "{e}");
    assert!(matches!(
        ExperimentConfig::from_pairs([("colour", "red")]),
        Err(ConfigError::UnknownKey(_))
    ));
    assert!(ExperimentConfig::from_pairs([("model", "vgg11"), ("dataset", "mnist")]).is_err());
}

#[test]
fn schedule_matches_multistep() {
    let c = ExperimentConfig::from_pairs([("epochs", "100"), ("lr-milestones", "30,60,90")]).unwrap();
    assert_eq!(c.lr_at(0), 0.01);
    assert_eq!(c.lr_at(29), 0.01);
    assert!((c.lr_at(30) - 0.002).abs() < 1e-12);
    assert!((c.lr_at(95) - 0.01 * 0.2f64.powi(3)).abs() < 1e-12);
}

#[test]
fn keys_are_the_result_files_field_names() {
    let json = serde_json::to_value(ExperimentConfig::default()).unwrap();
    let mut fields: Vec<&str> = json.as_object().unwrap().keys().map(String::as_str).collect();
    let mut names: Vec<&str> = KEYS.iter().map(|k| k.name).collect();
    fields.sort_unstable();
    names.sort_unstable();
    assert_eq!(fields, names);
}

#[test]
fn choices_are_the_enums_spellings() {
    let model = key("model").unwrap();
    assert_eq!(model.control, Control::Choice(ModelKind::NAMES));
    for &m in ModelKind::ALL {
        assert_eq!(ModelKind::parse(m.name()), Some(m));
    }
    assert!(key("augment").unwrap().flag && !key("lr").unwrap().flag);
    assert_eq!(key("depth").unwrap().family, Family::Fcn);
}
