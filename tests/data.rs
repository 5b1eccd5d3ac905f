//! Decoders on the real files, and on corrupted copies of them.

mod common;

use layerlab::engine::data::{DatasetKind, Problem, cifar, files, idx};
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn real_mnist_decodes() {
    let split = files::load_mnist(&common::mnist_dir()).unwrap();
    assert_eq!(split.train.len(), 60_000);
    assert_eq!(split.test.len(), 10_000);
    assert_eq!(split.train.labels[0], 5, "first training label of MNIST");
    assert_eq!(split.test.labels[0], 7, "first test label of MNIST");
    assert_eq!(split.train.images.len(), 60_000 * 784);
    // Every class is present in both sets.
    for set in [&split.train, &split.test] {
        let mut seen = [0usize; 10];
        for &l in &set.labels {
            seen[l as usize] += 1;
        }
        assert!(seen.iter().all(|&c| c > 800), "{seen:?}");
    }
}

#[test]
fn real_mnist_gzipped_decodes_the_same() {
    let dir = common::mnist_dir();
    let raw = std::fs::read(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let from_gz = idx::decode_labels("t10k-labels-idx1-ubyte.gz", &gzip(&raw), 10).unwrap();
    assert_eq!(
        from_gz,
        idx::decode_labels("t10k-labels-idx1-ubyte", &raw, 10).unwrap()
    );
}

#[test]
fn corrupted_mnist_files_each_give_their_own_error() {
    let dir = common::mnist_dir();
    let images = std::fs::read(dir.join("t10k-images-idx3-ubyte")).unwrap();
    let labels = std::fs::read(dir.join("t10k-labels-idx1-ubyte")).unwrap();
    let image_problem = |bytes: &[u8]| {
        idx::decode_images("t10k-images-idx3-ubyte", bytes, 28, 28)
            .unwrap_err()
            .problem()
            .cloned()
            .unwrap()
    };

    let truncated = &images[..images.len() - 1000];
    assert_eq!(
        image_problem(truncated),
        Problem::Truncated {
            expected: images.len() as u64,
            found: truncated.len() as u64
        }
    );
    let mut bad_magic = images.clone();
    bad_magic[..4].copy_from_slice(b"GIF8");
    assert!(matches!(image_problem(&bad_magic), Problem::BadMagic { .. }));
    let mut labels_as_images = labels.clone();
    labels_as_images.truncate(100);
    assert!(matches!(
        image_problem(&labels_as_images),
        Problem::BadRank {
            found: 1,
            expected: 3
        }
    ));
    let mut trailing = images.clone();
    trailing.extend_from_slice(&[0; 10]);
    assert_eq!(image_problem(&trailing), Problem::TrailingBytes { extra: 10 });
    let gz = gzip(&images);
    assert!(matches!(image_problem(&gz[..gz.len() / 3]), Problem::BadGzip(_)));

    let mut bad_label = labels.clone();
    bad_label[8 + 1234] = 42;
    let err = idx::decode_labels("t10k-labels-idx1-ubyte", &bad_label, 10).unwrap_err();
    assert_eq!(
        err.problem(),
        Some(&Problem::LabelOutOfRange {
            index: 1234,
            label: 42,
            max: 9
        })
    );
    assert!(err.to_string().contains("t10k-labels-idx1-ubyte"), "{err}");

    // Labels of the training set with the test images: counts disagree.
    let train_labels = std::fs::read(dir.join("train-labels-idx1-ubyte")).unwrap();
    let err = idx::mnist_split(
        ("a", &images),
        ("b", &train_labels),
        ("c", &images),
        ("d", &labels),
    )
    .unwrap_err();
    assert_eq!(
        err.problem(),
        Some(&Problem::CountMismatch {
            images: 10_000,
            labels: 60_000
        })
    );
}

#[test]
fn missing_mnist_folder_is_named() {
    let err = files::load_mnist(std::path::Path::new("/nonexistent/mnist")).unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("/nonexistent/mnist") && text.contains("train-images-idx3-ubyte"),
        "{text}"
    );
}

#[test]
fn real_cifar_subset_decodes() {
    let split = files::load(DatasetKind::Cifar10, &common::cifar_dir()).unwrap();
    assert_eq!(split.train.len(), 10_000);
    assert_eq!(split.test.len(), 10_000);
    assert_eq!(split.train.class_names[0], "airplane");
    assert_eq!(split.train.class_names[9], "truck");
    // The test batch is ordered round-robin by class.
    assert_eq!(&split.test.labels[..12], &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    assert_eq!(split.train.images.len(), 10_000 * 3072);
}

#[test]
fn cifar_official_archive_layout_and_corruptions() {
    let dir = common::cifar_dir();
    let test_gz = std::fs::read(dir.join("test_batch.bin.gz")).unwrap();
    let test = layerlab::engine::data::gz::maybe_gunzip("test_batch.bin.gz", &test_gz)
        .unwrap()
        .into_owned();
    let train = &test[..cifar::RECORD_LEN * 500];
    let meta = std::fs::read(dir.join("batches.meta.txt")).unwrap();
    // The official archive: a gzipped tar with the batches in cifar-10-batches-bin/.
    let tar = layerlab::engine::data::tar::write(&[
        ("cifar-10-batches-bin/batches.meta.txt", &meta),
        ("cifar-10-batches-bin/data_batch_1.bin", train),
        ("cifar-10-batches-bin/test_batch.bin", &test),
    ]);
    let archive = gzip(&tar);
    let split = cifar::split_from_archive("cifar-10-binary.tar.gz", &archive).unwrap();
    assert_eq!(split.train.len(), 500);
    assert_eq!(split.test.len(), 10_000);

    // And through the folder loader, as the CLI's --data sees it.
    let tmp = std::env::temp_dir().join(format!("layerlab-cifar-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(tmp.join("cifar-10-binary.tar.gz"), &archive).unwrap();
    assert_eq!(files::load_cifar10(&tmp).unwrap().train.len(), 500);
    assert_eq!(
        files::load_cifar10(&tmp.join("cifar-10-binary.tar.gz"))
            .unwrap()
            .test
            .len(),
        10_000
    );
    std::fs::remove_dir_all(&tmp).unwrap();

    let problem = |bytes: &[u8]| {
        cifar::decode_batch("test_batch.bin", bytes)
            .unwrap_err()
            .problem()
            .cloned()
            .unwrap()
    };
    assert!(matches!(
        problem(&test[..test.len() - 7]),
        Problem::BadRecordSize { .. }
    ));
    let mut bad_label = test.clone();
    bad_label[cifar::RECORD_LEN * 3] = 200;
    assert_eq!(
        problem(&bad_label),
        Problem::LabelOutOfRange {
            index: 3,
            label: 200,
            max: 9
        }
    );
    assert!(matches!(
        problem(&archive[..archive.len() / 2]),
        Problem::BadGzip(_)
    ));
    let mut altered_tar = tar.clone();
    altered_tar[20] ^= 0x5a;
    assert!(matches!(
        cifar::split_from_archive("a.tar", &altered_tar)
            .unwrap_err()
            .problem(),
        Some(Problem::BadTar(_))
    ));
    assert!(matches!(
        cifar::split_from_archive("a.tar", &tar[..3000])
            .unwrap_err()
            .problem(),
        Some(Problem::BadTar(_))
    ));
}
