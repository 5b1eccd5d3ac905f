//! The page's build step after trunk (run by scripts/stage-data.sh as trunk's post-build hook):
//!
//! 1. **Data**: the data sets in chunks (`DIST/data/<set>/`), each chunk a valid file of its
//!    format (IDX for MNIST, binary records for CIFAR-10) holding consecutive examples, gzipped,
//!    and `data/manifest-<hash>.json` listing them with their sizes, roles and example counts,
//!    so a run downloads only the examples it uses; `index.html` names the manifest in a
//!    `<meta>`. Chunk names carry a hash of their contents too. MNIST's four official files are
//!    put beside them for download. Chunks are cached between builds (`--cache`).
//! 2. **Hashed workers** (`assets.rs`): trunk leaves the two engine workers' files unhashed; they
//!    lose their `name` sections and get a hash of their contents in their names, and
//!    `index.html` names each loader in a `<meta>`; the CPU engine with threads, when the build
//!    has one, also gets its helper threads' script.
//! 3. **Service worker**: `sw-<hash>.js`, precaching the build (the WebGPU worker aside, kept
//!    when first fetched), named in a `<meta>` of `index.html` (the only unhashed file).
//!
//! `layerlab-stage --dist DIR [--mnist DIR] [--cifar DIR] [--cache DIR]`; steps 2 and 3 run
//! again on an already staged folder (the e2e update test does that after changing the worker).

mod assets;
mod data;

use assets::{
    THREADED_WORKER, WORKERS, content_hash, has_worker, hash_worker, set_meta, write_service_worker,
};
use data::{MNIST_FILES, cifar_chunks, mnist_chunks, stage_set};
use layerlab::engine::data::DatasetKind;
use layerlab::engine::data::manifest::Manifest;
use std::fs;
use std::io;
use std::path::PathBuf;

struct Args {
    dist: PathBuf,
    mnist: Option<PathBuf>,
    cifar: Option<PathBuf>,
    cache: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = std::env::args_os().skip(1);
    let (mut dist, mut mnist, mut cifar, mut cache) = (None, None, None, None);
    while let Some(flag) = args.next() {
        let value = args
            .next()
            .map(PathBuf::from)
            .ok_or("every option needs a value")?;
        match flag.to_str() {
            Some("--dist") => dist = Some(value),
            Some("--mnist") => mnist = Some(value),
            Some("--cifar") => cifar = Some(value),
            Some("--cache") => cache = Some(value),
            _ => return Err(format!("unknown option {}", flag.to_string_lossy())),
        }
    }
    Ok(Args {
        dist: dist.ok_or("usage: layerlab-stage --dist DIR [--mnist DIR] [--cifar DIR] [--cache DIR]")?,
        cache: cache.unwrap_or_else(|| std::env::temp_dir().join("layerlab-stage")),
        mnist,
        cifar,
    })
}

fn run(args: &Args) -> io::Result<()> {
    let data = args.dist.join("data");
    let mut manifest = Manifest::default();
    if let Some(dir) = &args.mnist {
        let sources = MNIST_FILES.iter().map(|(f, _)| dir.join(f)).collect();
        let set = stage_set(
            DatasetKind::Mnist,
            sources,
            || mnist_chunks(dir),
            &args.cache,
            &data,
        )?;
        manifest.datasets.insert(DatasetKind::Mnist, set);
    }
    if let Some(dir) = &args.cifar {
        let mut sources: Vec<PathBuf> = fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        sources.sort();
        let set = stage_set(
            DatasetKind::Cifar10,
            sources,
            || cifar_chunks(dir),
            &args.cache,
            &data,
        )?;
        manifest.datasets.insert(DatasetKind::Cifar10, set);
    }
    let index = args.dist.join("index.html");
    let mut html = fs::read_to_string(&index)?;
    if !manifest.datasets.is_empty() {
        let json = manifest.to_json();
        let name = format!("manifest-{}.json", content_hash(&[json.as_bytes()]));
        for entry in fs::read_dir(&data)? {
            let old = entry?.file_name().to_string_lossy().into_owned();
            if old.starts_with("manifest") && old.ends_with(".json") {
                fs::remove_file(data.join(old))?;
            }
        }
        fs::write(data.join(&name), json)?;
        html = set_meta(&html, "layerlab-data", &format!("./data/{name}"));
        for (kind, set) in &manifest.datasets {
            let bytes: u64 = set.files.iter().map(|f| f.bytes).sum();
            eprintln!("{}: {} chunks, {bytes} bytes", kind.name(), set.files.len());
        }
    }
    for name in WORKERS {
        let loader = hash_worker(&args.dist, name)?;
        html = set_meta(&html, name, &format!("./{loader}"));
        eprintln!("{name}: {loader}");
    }
    if has_worker(&args.dist, THREADED_WORKER)? {
        let loader = hash_worker(&args.dist, THREADED_WORKER)?;
        html = set_meta(&html, THREADED_WORKER, &format!("./{loader}"));
        eprintln!("{THREADED_WORKER}: {loader}");
    }
    let service_worker = write_service_worker(&args.dist)?;
    fs::write(
        &index,
        set_meta(&html, "layerlab-sw", &format!("./{service_worker}")),
    )?;
    eprintln!("service worker {service_worker}");
    Ok(())
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("error: {}: {e}", args.dist.display());
        std::process::exit(1);
    }
}
