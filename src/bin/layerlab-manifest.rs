//! Writes `DIR/manifest.json` for the data staged under `DIR` (`DIR/mnist`, `DIR/cifar10`): the
//! trunk post-build hook (scripts/stage-data.sh) runs it after copying the files. Needs no burn:
//! `cargo run --release --no-default-features --bin layerlab-manifest -- DIR`.

use layerlab::engine::data::manifest::Manifest;
use std::path::PathBuf;

fn main() {
    let Some(dir) = std::env::args_os().nth(1).map(PathBuf::from) else {
        eprintln!("usage: layerlab-manifest DIR");
        std::process::exit(2);
    };
    let written = Manifest::of_folder(&dir).and_then(|m| {
        std::fs::write(dir.join("manifest.json"), m.to_json())?;
        Ok(m)
    });
    match written {
        Ok(m) => {
            for (kind, set) in &m.datasets {
                let bytes: u64 = set.files.iter().map(|f| f.bytes).sum();
                eprintln!("{}: {} files, {bytes} bytes", kind.name(), set.files.len());
            }
        }
        Err(e) => {
            eprintln!("error: {}: {e}", dir.display());
            std::process::exit(1);
        }
    }
}
