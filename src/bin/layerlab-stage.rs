//! The page's build step after trunk (run by scripts/stage-data.sh as trunk's post-build hook):
//!
//! 1. **Data**: the data sets in chunks (`DIST/data/<set>/`), each chunk a valid file of its
//!    format (IDX for MNIST, binary records for CIFAR-10) holding consecutive examples, gzipped,
//!    and `data/manifest-<hash>.json` listing them with their sizes, roles and example counts,
//!    so a run downloads only the examples it uses; `index.html` names the manifest in a
//!    `<meta>`. Chunk names carry a hash of their contents too. MNIST's four official files are
//!    put beside them for download. Chunks are cached between builds (`--cache`).
//! 2. **Hashed worker**: trunk leaves the engine worker's files unhashed; they get a hash of
//!    their contents in their names, and `index.html` names the loader in a `<meta>`.
//! 3. **Service worker**: `sw-<hash>.js`, precaching every file of the build, named in a `<meta>`
//!    of `index.html` (the only unhashed file) for the page to register.
//!
//! `layerlab-stage --dist DIR [--mnist DIR] [--cifar DIR] [--cache DIR]`; steps 2 and 3 run
//! again on an already staged folder (the e2e update test does that after changing the worker).

use layerlab::engine::data::manifest::{FileRole, Manifest, ManifestFile, ManifestSet};
use layerlab::engine::data::{DatasetKind, cifar, idx};
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Examples per MNIST chunk (the quick preset's 20k/5k are four and one chunks).
const MNIST_CHUNK: usize = 5000;
/// Records per CIFAR-10 chunk (2.9 MB gzipped).
const CIFAR_CHUNK: usize = 1000;
const MNIST_FILES: [(&str, FileRole); 4] = [
    ("train-images-idx3-ubyte", FileRole::TrainImages),
    ("train-labels-idx1-ubyte", FileRole::TrainLabels),
    ("t10k-images-idx3-ubyte", FileRole::TestImages),
    ("t10k-labels-idx1-ubyte", FileRole::TestLabels),
];

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

fn gzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
    // No file name or time in the header: the same input gives the same bytes, so hashes and
    // caches stay stable from build to build.
    let mut encoder = flate2::GzBuilder::new().write(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes)?;
    encoder.finish()
}

/// Sizes and times of the sources: a cache made from other sources is made again.
fn stamp(sources: &[PathBuf]) -> io::Result<String> {
    let mut out = format!("chunks v2 {MNIST_CHUNK} {CIFAR_CHUNK}\n");
    for path in sources {
        let meta = fs::metadata(path)?;
        let modified = meta
            .modified()?
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        out.push_str(&format!("{} {} {modified}\n", path.display(), meta.len()));
    }
    Ok(out)
}

/// A data set's chunk files (name, bytes) and their manifest entries.
struct Staged {
    files: Vec<(String, Vec<u8>)>,
    set: ManifestSet,
}

impl Staged {
    /// Adds a file the page fetches: `stem` + a hash of `bytes` + `extension`.
    fn add(
        &mut self,
        stem: String,
        extension: &str,
        bytes: Vec<u8>,
        role: FileRole,
        examples: Option<usize>,
    ) {
        let name = format!("{stem}-{}{extension}", content_hash(&[&bytes]));
        self.set.files.push(ManifestFile {
            name: name.clone(),
            bytes: bytes.len() as u64,
            role,
            examples,
        });
        self.files.push((name, bytes));
    }
}

fn mnist_chunks(dir: &Path) -> io::Result<Staged> {
    let mut staged = Staged {
        files: Vec::new(),
        set: ManifestSet::default(),
    };
    let mut downloads = Vec::new();
    for (stem, role) in MNIST_FILES {
        let path = dir.join(stem);
        let raw = fs::read(&path)?;
        let name = path.display().to_string();
        let is_images = matches!(role, FileRole::TrainImages | FileRole::TestImages);
        let (values, dims, per_example): (Vec<u8>, &[u32], usize) = if is_images {
            let pixels = idx::decode_images(&name, &raw, 28, 28).map_err(|e| invalid(e.to_string()))?;
            (pixels, &[28, 28], 784)
        } else {
            let labels = idx::decode_labels(&name, &raw, 10).map_err(|e| invalid(e.to_string()))?;
            (labels, &[], 1)
        };
        for (i, chunk) in values.chunks(MNIST_CHUNK * per_example).enumerate() {
            let count = chunk.len() / per_example;
            let shape: Vec<u32> = std::iter::once(count as u32)
                .chain(dims.iter().copied())
                .collect();
            let file = gzip(&idx::encode(&shape, chunk))?;
            staged.add(format!("{stem}.{i:02}"), ".gz", file, role, Some(count));
        }
        downloads.push((format!("{stem}.gz"), gzip(&raw)?));
    }
    // The official files, for download; not in the manifest (runs fetch the chunks).
    staged.files.extend(downloads);
    Ok(staged)
}

fn cifar_chunks(dir: &Path) -> io::Result<Staged> {
    let mut staged = Staged {
        files: Vec::new(),
        set: ManifestSet::default(),
    };
    let mut names: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(cifar::is_train_batch)
        })
        .collect();
    names.sort();
    let test = ["test_batch.bin.gz", "test_batch.bin"]
        .iter()
        .map(|n| dir.join(n))
        .find(|p| p.exists())
        .ok_or_else(|| invalid(format!("{}: no test_batch.bin", dir.display())))?;
    for (paths, prefix, role) in [
        (names, "data_batch", FileRole::TrainBatch),
        (vec![test], "test_batch", FileRole::TestBatch),
    ] {
        let mut records = Vec::new();
        for path in &paths {
            let (images, labels) = cifar::decode_batch(&path.display().to_string(), &fs::read(path)?)
                .map_err(|e| invalid(e.to_string()))?;
            for (label, image) in labels.iter().zip(images.chunks_exact(cifar::RECORD_LEN - 1)) {
                records.push(*label);
                records.extend_from_slice(image);
            }
        }
        for (i, chunk) in records.chunks(CIFAR_CHUNK * cifar::RECORD_LEN).enumerate() {
            let count = chunk.len() / cifar::RECORD_LEN;
            staged.add(
                format!("{prefix}.{i:02}"),
                ".bin.gz",
                gzip(chunk)?,
                role,
                Some(count),
            );
        }
    }
    let meta = dir.join("batches.meta.txt");
    if meta.exists() {
        staged.add(
            "batches.meta".into(),
            ".txt",
            fs::read(meta)?,
            FileRole::ClassNames,
            None,
        );
    }
    Ok(staged)
}

/// Stages one data set into `dest`, from the cache when its sources are unchanged.
fn stage_set(
    kind: DatasetKind,
    sources: Vec<PathBuf>,
    make: impl FnOnce() -> io::Result<Staged>,
    cache: &Path,
    dest: &Path,
) -> io::Result<ManifestSet> {
    let cached = cache.join(format!("chunks-{}", kind.name()));
    let stamp_now = stamp(&sources)?;
    let set_file = cached.join("set.json");
    let fresh = fs::read_to_string(cached.join("stamp")).ok().as_deref() == Some(stamp_now.as_str());
    if !fresh || !set_file.exists() {
        let staged = make()?;
        let _ = fs::remove_dir_all(&cached);
        fs::create_dir_all(&cached)?;
        for (name, bytes) in &staged.files {
            fs::write(cached.join(name), bytes)?;
        }
        fs::write(
            &set_file,
            serde_json::to_string(&staged.set).map_err(io::Error::other)?,
        )?;
        fs::write(cached.join("stamp"), &stamp_now)?;
    }
    let set: ManifestSet =
        serde_json::from_str(&fs::read_to_string(&set_file)?).map_err(|e| invalid(e.to_string()))?;
    let out = dest.join(kind.name());
    fs::create_dir_all(&out)?;
    for entry in fs::read_dir(&cached)? {
        let entry = entry?;
        let name = entry.file_name();
        if name != "stamp" && name != "set.json" {
            fs::copy(entry.path(), out.join(name))?;
        }
    }
    Ok(set)
}

/// A short content hash for file names. CRC-32 of the contents and of their length-salted
/// copy, 64 bits: it only has to tell two builds apart (flate2 already links crc32fast).
fn content_hash(parts: &[&[u8]]) -> String {
    let mut a = crc32fast::Hasher::new();
    let mut b = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
    for part in parts {
        a.update(part);
        b.update(&(part.len() as u64).to_le_bytes());
        b.update(part);
    }
    format!("{:08x}{:08x}", a.finalize(), b.finalize())
}

/// The file in `dir` whose name is `stem` + an optional `-<hash>` + `suffix`.
fn find_hashed(dir: &Path, stem: &str, suffix: &str) -> io::Result<Option<PathBuf>> {
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(middle) = name.strip_prefix(stem).and_then(|r| r.strip_suffix(suffix))
            && (middle.is_empty()
                || middle
                    .strip_prefix('-')
                    .is_some_and(|h| h.len() == 16 && h.chars().all(|c| c.is_ascii_hexdigit())))
        {
            return Ok(Some(dir.join(name)));
        }
    }
    Ok(None)
}

/// Sets `<meta name=NAME content=…>` in the page's head (replacing an earlier one).
fn set_meta(html: &str, name: &str, content: &str) -> String {
    let tag = format!("<meta name=\"{name}\" content=\"{content}\" />");
    let marker = format!("<meta name=\"{name}\" ");
    let without: String = html
        .lines()
        .filter(|l| !l.trim_start().starts_with(&marker))
        .map(|l| format!("{l}\n"))
        .collect();
    match without.find("</head>") {
        Some(at) => format!("{}    {tag}\n{}", &without[..at], &without[at..]),
        None => format!("{tag}\n{without}"),
    }
}

/// `wasm` without its `name` custom section (function names for stack traces: 7.6 MB of the
/// WebGPU worker's 41 MB). Anything that is not a well-formed module is returned as it is.
fn strip_names(wasm: &[u8]) -> Vec<u8> {
    fn leb(bytes: &[u8], at: &mut usize) -> Option<usize> {
        let mut value = 0usize;
        for shift in (0..35).step_by(7) {
            let byte = *bytes.get(*at)?;
            *at += 1;
            value |= ((byte & 0x7f) as usize) << shift;
            if byte & 0x80 == 0 {
                return Some(value);
            }
        }
        None
    }
    let sections = || -> Option<Vec<u8>> {
        if wasm.get(..8)? != b"\0asm\x01\0\0\0" {
            return None;
        }
        let mut out = wasm[..8].to_vec();
        let mut at = 8;
        while at < wasm.len() {
            let start = at;
            let id = wasm[at];
            at += 1;
            let len = leb(wasm, &mut at)?;
            let body = at;
            let end = body.checked_add(len).filter(|&e| e <= wasm.len())?;
            let mut name_at = body;
            let is_names = id == 0
                && leb(wasm, &mut name_at)
                    .is_some_and(|n| wasm.get(name_at..name_at + n) == Some(b"name".as_slice()));
            if !is_names {
                out.extend_from_slice(&wasm[start..end]);
            }
            at = end;
        }
        Some(out)
    };
    sections().unwrap_or_else(|| wasm.to_vec())
}

/// The engine's two workers: with WebGPU, and CPU-only (the smaller download).
const WORKERS: [&str; 2] = ["layerlab-worker", "layerlab-worker-cpu"];

/// Renames worker `name`'s three files after their contents; returns the loader's name.
fn hash_worker(dist: &Path, name: &str) -> io::Result<String> {
    let js = find_hashed(dist, name, ".js")?.ok_or_else(|| invalid(format!("no {name} script")))?;
    let wasm = find_hashed(dist, name, "_bg.wasm")?.ok_or_else(|| invalid(format!("no {name} wasm")))?;
    let loader = find_hashed(dist, name, "_loader.js")?;
    let (js_bytes, wasm_bytes) = (fs::read(&js)?, strip_names(&fs::read(&wasm)?));
    let hash = content_hash(&[&js_bytes, &wasm_bytes]);
    let stem = format!("{name}-{hash}");
    fs::remove_file(&js)?;
    fs::remove_file(&wasm)?;
    if let Some(loader) = loader {
        fs::remove_file(loader)?;
    }
    fs::write(dist.join(format!("{stem}.js")), &js_bytes)?;
    fs::write(dist.join(format!("{stem}_bg.wasm")), &wasm_bytes)?;
    let loader_name = format!("{stem}_loader.js");
    fs::write(
        dist.join(&loader_name),
        format!("importScripts(\"./{stem}.js\");wasm_bindgen(\"./{stem}_bg.wasm\");"),
    )?;
    Ok(loader_name)
}

/// Writes `sw-<hash>.js` precaching every file of the build but the data and the WebGPU worker
/// (kept when first fetched: only visitors with a hardware GPU load it); returns its name.
fn write_service_worker(dist: &Path) -> io::Result<String> {
    let mut files: Vec<String> = fs::read_dir(dist)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "index.html" && !(n.starts_with("sw-") && n.ends_with(".js")))
        .collect();
    files.sort();
    let mut contents = Vec::new();
    for name in &files {
        contents.push(fs::read(dist.join(name))?);
    }
    let template = include_str!("../../web/sw.js");
    let parts: Vec<&[u8]> = std::iter::once(template.as_bytes())
        .chain(contents.iter().map(Vec::as_slice))
        .collect();
    let version = content_hash(&parts);
    for entry in fs::read_dir(dist)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if name.starts_with("sw-") && name.ends_with(".js") {
            fs::remove_file(dist.join(name))?;
        }
    }
    let webgpu_worker = |n: &str| {
        n.strip_prefix("layerlab-worker-")
            .is_some_and(|rest| rest.len() >= 16 && rest[..16].chars().all(|c| c.is_ascii_hexdigit()))
    };
    let precache: Vec<String> = std::iter::once("./".to_string())
        .chain(
            files
                .iter()
                .filter(|n| !webgpu_worker(n))
                .map(|n| format!("./{n}")),
        )
        .collect();
    let script = template.replace("__VERSION__", &version).replace(
        "__PRECACHE__",
        &serde_json::to_string(&precache).map_err(io::Error::other)?,
    );
    let name = format!("sw-{version}.js");
    fs::write(dist.join(&name), script)?;
    Ok(name)
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_section_is_dropped_and_the_rest_kept() {
        let section = |id: u8, body: &[u8]| [&[id, body.len() as u8][..], body].concat();
        let custom = |name: &str, payload: &[u8]| {
            section(0, &[&[name.len() as u8][..], name.as_bytes(), payload].concat())
        };
        let module = [
            b"\0asm\x01\0\0\0".to_vec(),
            section(1, &[0]),
            custom("name", &[1, 2, 3]),
            custom("producers", &[4]),
            section(10, &[0]),
        ]
        .concat();
        let stripped = strip_names(&module);
        let expected = [
            b"\0asm\x01\0\0\0".to_vec(),
            section(1, &[0]),
            custom("producers", &[4]),
            section(10, &[0]),
        ]
        .concat();
        assert_eq!(stripped, expected);
        assert_eq!(strip_names(b"not wasm"), b"not wasm");
        let mut truncated = module.clone();
        truncated.truncate(12);
        assert_eq!(
            strip_names(&truncated),
            truncated,
            "a damaged module is left alone"
        );
    }

    #[test]
    fn meta_tags_are_set_once() {
        let html = "<html><head>\n<title>x</title>\n</head><body></body></html>\n";
        let once = set_meta(html, "layerlab-sw", "./sw-1.js");
        let twice = set_meta(&once, "layerlab-sw", "./sw-2.js");
        assert!(
            twice.contains("content=\"./sw-2.js\"") && !twice.contains("sw-1"),
            "{twice}"
        );
        assert_eq!(twice.matches("layerlab-sw").count(), 1);
    }

    #[test]
    fn hashes_tell_contents_apart_and_names_are_found_either_way() {
        assert_ne!(content_hash(&[b"ab", b"c"]), content_hash(&[b"a", b"bc"]));
        assert_eq!(content_hash(&[b"x"]).len(), 16);
        let dir = std::env::temp_dir().join(format!("layerlab-stage-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("layerlab-worker.js"), "js").unwrap();
        fs::write(dir.join("layerlab-worker_bg.wasm"), "wasm").unwrap();
        fs::write(dir.join("layerlab-worker_loader.js"), "old").unwrap();
        let first = hash_worker(&dir, "layerlab-worker").unwrap();
        assert_eq!(
            hash_worker(&dir, "layerlab-worker").unwrap(),
            first,
            "the same contents, the same name"
        );
        let names: Vec<String> = fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 3, "{names:?}");
        assert!(
            names.iter().all(|n| n.starts_with("layerlab-worker-")),
            "{names:?}"
        );
        let loader = fs::read_to_string(dir.join(&first)).unwrap();
        assert!(
            loader.contains(&first.replace("_loader.js", "_bg.wasm")),
            "{loader}"
        );
        let _ = fs::remove_dir_all(&dir);
    }
}
