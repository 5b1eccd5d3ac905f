//! Data sets as the engine sees them: decoded, validated, still 8-bit, on the host.
//!
//! Decoders work on bytes (so the page can feed them what it fetched or what the user dropped)
//! and the native loaders in [`files`] find those bytes on disk. Every failure is a
//! [`DataError`] naming the file and the problem; nothing in here panics on bad input.

pub mod cifar;
pub mod files;
pub mod gz;
pub mod idx;
pub mod manifest;
pub mod tar;

#[cfg(feature = "engine")]
use crate::engine::kernels::conv::in_parts;
#[cfg(feature = "engine")]
use crate::engine::rng::Rng;
use serde::{Deserialize, Serialize};

/// The data sets the engine knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Hash)]
#[serde(rename_all = "lowercase")]
pub enum DatasetKind {
    Mnist,
    Cifar10,
}

impl DatasetKind {
    pub fn name(self) -> &'static str {
        match self {
            DatasetKind::Mnist => "mnist",
            DatasetKind::Cifar10 => "cifar10",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "mnist" => Some(Self::Mnist),
            "cifar10" | "cifar-10" | "cifar" => Some(Self::Cifar10),
            _ => None,
        }
    }

    /// `[channels, height, width]` of one example.
    pub fn image_shape(self) -> [usize; 3] {
        match self {
            DatasetKind::Mnist => [1, 28, 28],
            DatasetKind::Cifar10 => [3, 32, 32],
        }
    }

    /// The number of classes (known before the data is in: the page prepares a run's kernels
    /// while its files download).
    pub fn class_count(self) -> usize {
        match self {
            DatasetKind::Mnist | DatasetKind::Cifar10 => 10,
        }
    }

    /// Per-channel mean and standard deviation of the pixels scaled to [0, 1].
    ///
    /// Fixed, published constants (not recomputed from whatever subset is loaded) so that a
    /// result is reproducible from its config alone.
    pub fn normalization(self) -> Normalization {
        match self {
            DatasetKind::Mnist => Normalization {
                mean: vec![0.1307],
                std: vec![0.3081],
            },
            DatasetKind::Cifar10 => Normalization {
                mean: vec![0.4914, 0.4822, 0.4465],
                std: vec![0.2470, 0.2435, 0.2616],
            },
        }
    }

    pub fn default_class_names(self) -> Vec<String> {
        match self {
            DatasetKind::Mnist => (0..10).map(|d| d.to_string()).collect(),
            DatasetKind::Cifar10 => cifar::DEFAULT_CLASS_NAMES.iter().map(|s| s.to_string()).collect(),
        }
    }
}

/// Per-channel input normalisation.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalization {
    /// Channel `c`'s normalised value of a byte: `(byte / 255 − mean) / std`, in f32 in that
    /// order (the one definition every path computes, so the page and the CLI agree bit for
    /// bit).
    #[inline(always)]
    pub fn normalised(&self, channel: usize, byte: u8) -> f32 {
        normalised(byte, self.mean[channel], self.std[channel])
    }
}

/// [`Normalization::normalised`] with the channel's mean and std at hand (a loop over a plane
/// the compiler can turn into vector conversions and divisions).
#[inline(always)]
fn normalised(byte: u8, mean: f32, std: f32) -> f32 {
    (byte as f32 / 255.0 - mean) / std
}

/// A labelled image set, pixels still as bytes, channel-planar (`[n, c, h, w]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    pub kind: DatasetKind,
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    pub class_names: Vec<String>,
}

impl Dataset {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    pub fn num_classes(&self) -> usize {
        self.class_names.len()
    }

    /// Values per example (`c * h * w`).
    pub fn example_len(&self) -> usize {
        let [c, h, w] = self.kind.image_shape();
        c * h * w
    }

    /// The first `n` examples (all of them when `n` is larger).
    pub fn truncated(mut self, n: Option<usize>) -> Self {
        if let Some(n) = n
            && n < self.len()
        {
            let len = self.example_len();
            self.images.truncate(n * len);
            self.labels.truncate(n);
        }
        self
    }
}

/// Batches for training and evaluation (the page's UI, built without the engine, has none).
#[cfg(feature = "engine")]
impl Dataset {
    /// Appends the normalised pixels of `indices` to `out` (`[indices.len(), c*h*w]`).
    ///
    /// With `augment`, each image gets a random crop of the image padded by 4 black pixels and a
    /// random horizontal flip (the standard CIFAR-10 recipe), drawn from that generator. Without,
    /// the images are split over the threads (each writes its own rows: the same bits on any
    /// number): gathering an MNIST batch through a lookup table on one thread was 6% of an FCN
    /// step natively, the other core waiting.
    pub fn gather_normalised(
        &self,
        indices: &[usize],
        normalization: &Normalization,
        augment: Option<&mut Rng>,
        out: &mut Vec<f32>,
    ) {
        let [channels, height, width] = self.kind.image_shape();
        let (len, plane) = (self.example_len(), height * width);
        let (start, added) = (out.len(), indices.len() * len);
        out.reserve(added);
        let Some(rng) = augment else {
            in_parts(
                &mut out.spare_capacity_mut()[..added],
                indices.len(),
                len,
                |mine, block| {
                    for (&index, example) in indices[mine].iter().zip(block.chunks_exact_mut(len)) {
                        let image = &self.images[index * len..][..len];
                        for (c, (dst, src)) in example
                            .chunks_exact_mut(plane)
                            .zip(image.chunks_exact(plane))
                            .enumerate()
                        {
                            let (mean, std) = (normalization.mean[c], normalization.std[c]);
                            for (d, &byte) in dst.iter_mut().zip(src) {
                                d.write(normalised(byte, mean, std));
                            }
                        }
                    }
                },
            );
            // Safety: the parts have written each of the `added` values after `start`.
            unsafe { out.set_len(start + added) };
            return;
        };
        for &index in indices {
            let image = &self.images[index * len..(index + 1) * len];
            const PAD: i64 = 4;
            let dy = rng.below(2 * PAD as u64 + 1) as i64 - PAD;
            let dx = rng.below(2 * PAD as u64 + 1) as i64 - PAD;
            let flip = rng.below(2) == 1;
            for c in 0..channels {
                let pixels = &image[c * plane..][..plane];
                for y in 0..height as i64 {
                    for x in 0..width as i64 {
                        let source_x = if flip { width as i64 - 1 - x } else { x } + dx;
                        let source_y = y + dy;
                        let inside =
                            (0..height as i64).contains(&source_y) && (0..width as i64).contains(&source_x);
                        let byte = if inside {
                            pixels[(source_y as usize) * width + source_x as usize]
                        } else {
                            0
                        };
                        out.push(normalization.normalised(c, byte));
                    }
                }
            }
        }
    }
}

/// A train/test pair of one kind.
#[derive(Clone, Debug)]
pub struct DataSplit {
    pub train: Dataset,
    pub test: Dataset,
}

/// What is wrong with a data file, in words a person can act on.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DataError {
    #[error("{file}: {problem}")]
    Invalid { file: String, problem: Problem },
    #[error("{file}: cannot be read: {message}")]
    Io { file: String, message: String },
    #[error("{dir}: no {what} found (looked for {looked_for})")]
    Missing {
        dir: String,
        what: String,
        looked_for: String,
    },
}

impl DataError {
    pub fn invalid(file: &str, problem: Problem) -> Self {
        Self::Invalid {
            file: file.to_string(),
            problem,
        }
    }

    /// The specific problem, when the error is about a file's content.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            DataError::Invalid { problem, .. } => Some(problem),
            _ => None,
        }
    }
}

/// One kind of corruption per variant, so tests and messages can tell them apart.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Problem {
    #[error("not an IDX file: magic number {found:#010x}, expected {expected:#010x}")]
    BadMagic { found: u32, expected: u32 },
    #[error("unsupported IDX element type {0:#04x} (only unsigned bytes, 0x08, are used by MNIST)")]
    BadElementType(u8),
    #[error("IDX header has {found} dimensions, expected {expected}")]
    BadRank { found: u8, expected: u8 },
    #[error("images are {rows}x{cols}, expected {expected_rows}x{expected_cols}")]
    BadImageSize {
        rows: u32,
        cols: u32,
        expected_rows: u32,
        expected_cols: u32,
    },
    #[error("file is truncated: {found} bytes, the header promises {expected}")]
    Truncated { expected: u64, found: u64 },
    #[error("{extra} unexpected bytes after the last record")]
    TrailingBytes { extra: u64 },
    #[error("label {label} of example {index} is out of range (0..={max})")]
    LabelOutOfRange { index: usize, label: u8, max: u8 },
    #[error("{images} images but {labels} labels")]
    CountMismatch { images: usize, labels: usize },
    #[error("file holds no examples")]
    Empty,
    #[error("size {size} bytes is not a whole number of {record}-byte CIFAR-10 records")]
    BadRecordSize { size: u64, record: u64 },
    #[error("gzip stream is corrupt: {0}")]
    BadGzip(String),
    #[error("decompressed size exceeds the {limit}-byte limit")]
    TooLarge { limit: u64 },
    #[error("tar archive is corrupt: {0}")]
    BadTar(String),
    #[error("archive has no {0}")]
    MissingMember(String),
    #[error("class names file is malformed: {0}")]
    BadClassNames(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_table_maps_mean_to_zero() {
        let n = Normalization {
            mean: vec![0.5],
            std: vec![0.25],
        };
        assert!((n.normalised(0, 0) - (-2.0)).abs() < 1e-6);
        assert!((n.normalised(0, 255) - 2.0).abs() < 1e-6);
    }

    /// The plain gather, split over the threads on a batch large enough to split, gives each
    /// image's bytes through the one definition, bit for bit, in the order of `indices`.
    #[test]
    fn plain_gather_is_the_definition_in_order() {
        let kind = DatasetKind::Mnist;
        let len = 28 * 28;
        let count = 300;
        let images: Vec<u8> = (0..count * len).map(|i| (i * 31 % 256) as u8).collect();
        let data = Dataset {
            kind,
            images,
            labels: vec![0; count],
            class_names: kind.default_class_names(),
        };
        let normalization = kind.normalization();
        let indices: Vec<usize> = (0..count).rev().step_by(2).chain(0..count).collect();
        let mut out = vec![7.0];
        data.gather_normalised(&indices, &normalization, None, &mut out);
        assert_eq!(out.len(), 1 + indices.len() * len);
        assert_eq!(out[0], 7.0, "what `out` held stays");
        for (row, &index) in indices.iter().enumerate() {
            for p in 0..len {
                let expected = normalization.normalised(0, data.images[index * len + p]);
                assert_eq!(out[1 + row * len + p].to_bits(), expected.to_bits());
            }
        }
    }

    #[test]
    fn augmentation_keeps_pixels_and_shape() {
        let kind = DatasetKind::Cifar10;
        let len = 3 * 32 * 32;
        let images: Vec<u8> = (0..len).map(|i| (i % 251) as u8 + 1).collect();
        let data = Dataset {
            kind,
            images,
            labels: vec![3],
            class_names: kind.default_class_names(),
        };
        let identity = Normalization {
            mean: vec![0.0; 3],
            std: vec![1.0 / 255.0; 3],
        };
        let mut plain = Vec::new();
        data.gather_normalised(&[0], &identity, None, &mut plain);
        assert_eq!(plain.len(), len);
        assert_eq!(plain[5].round() as u8, data.images[5]);
        let mut rng = Rng::from_seed(1);
        let mut saw_change = false;
        for _ in 0..20 {
            let mut aug = Vec::new();
            data.gather_normalised(&[0], &identity, Some(&mut rng), &mut aug);
            assert_eq!(aug.len(), len);
            // Every value is either a pixel of the image or the black padding.
            assert!(aug.iter().all(|v| v.round() >= 0.0 && v.round() <= 252.0));
            saw_change |= aug != plain;
        }
        assert!(saw_change);
    }
}
