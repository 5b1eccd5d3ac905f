//! Steps 2 and 3 of the staging: content-hashed names for the engine workers (their `name`
//! sections stripped), the service worker, and the `<meta>` tags that name them in `index.html`.

use crate::data::invalid;
use layerlab::runtime::protocol::EngineKind;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// A short content hash for file names. CRC-32 of the contents and of their length-salted
/// copy, 64 bits: it only has to tell two builds apart (flate2 already links crc32fast).
pub(crate) fn content_hash(parts: &[&[u8]]) -> String {
    let mut a = crc32fast::Hasher::new();
    let mut b = crc32fast::Hasher::new_with_initial(0x9e37_79b9);
    for part in parts {
        a.update(part);
        b.update(&(part.len() as u64).to_le_bytes());
        b.update(part);
    }
    format!("{:08x}{:08x}", a.finalize(), b.finalize())
}

/// Whether `s` is a [`content_hash`].
fn is_hash(s: &str) -> bool {
    s.len() == 16 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// The file in `dir` whose name is `stem` + an optional `-<hash>` + `suffix`.
fn find_hashed(dir: &Path, stem: &str, suffix: &str) -> io::Result<Option<PathBuf>> {
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(middle) = name.strip_prefix(stem).and_then(|r| r.strip_suffix(suffix))
            && (middle.is_empty() || middle.strip_prefix('-').is_some_and(is_hash))
        {
            return Ok(Some(dir.join(name)));
        }
    }
    Ok(None)
}

/// Sets `<meta name=NAME content=…>` in the page's head (replacing an earlier one).
pub(crate) fn set_meta(html: &str, name: &str, content: &str) -> String {
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

/// The engine's workers: with WebGPU, CPU-only (the smaller download), and CPU-only for browsers
/// without relaxed SIMD.
pub(crate) const WORKERS: [&str; 3] = [
    "layerlab-worker",
    "layerlab-worker-cpu",
    EngineKind::COMPAT_CPU_WORKER,
];

/// The CPU engine built with WebAssembly threads (scripts/build-cpu-threads.sh), when the build
/// has it: the page loads it when it is cross-origin isolated (`ui::engine`).
pub(crate) const THREADED_WORKER: &str = EngineKind::THREADED_CPU_WORKER;

/// Whether `dist` holds worker `name`'s script (hashed or not).
pub(crate) fn has_worker(dist: &Path, name: &str) -> io::Result<bool> {
    Ok(find_hashed(dist, name, ".js")?.is_some())
}

/// Renames worker `name`'s files after their contents and writes its loader (and, for the
/// [`THREADED_WORKER`], the helper threads' script); returns the loader's name.
pub(crate) fn hash_worker(dist: &Path, name: &str) -> io::Result<String> {
    let js = find_hashed(dist, name, ".js")?.ok_or_else(|| invalid(format!("no {name} script")))?;
    let wasm = find_hashed(dist, name, "_bg.wasm")?.ok_or_else(|| invalid(format!("no {name} wasm")))?;
    let (js_bytes, wasm_bytes) = (fs::read(&js)?, strip_names(&fs::read(&wasm)?));
    let hash = content_hash(&[&js_bytes, &wasm_bytes]);
    let stem = format!("{name}-{hash}");
    fs::remove_file(&js)?;
    fs::remove_file(&wasm)?;
    for suffix in ["_loader.js", "_helper.js"] {
        if let Some(old) = find_hashed(dist, name, suffix)? {
            fs::remove_file(old)?;
        }
    }
    fs::write(dist.join(format!("{stem}.js")), &js_bytes)?;
    fs::write(dist.join(format!("{stem}_bg.wasm")), &wasm_bytes)?;
    let glue = format!("importScripts(\"./{stem}.js\");");
    let mut loader = glue.clone();
    if name == THREADED_WORKER {
        // The helpers instantiate the engine's module on its memory ([module, memory], posted
        // by runtime::threads), marked as helpers first so the start function leaves them be.
        let helper = format!(
            "self.layerlab_helper_thread=true;{glue}self.onmessage=(e)=>{{self.onmessage=null;\
             wasm_bindgen({{module_or_path:e.data[0],memory:e.data[1]}}).then(()=>wasm_bindgen.helper_main());}};"
        );
        fs::write(dist.join(format!("{stem}_helper.js")), helper)?;
        loader = format!("self.layerlab_helper_url=\"./{stem}_helper.js\";{glue}");
    }
    let loader_name = format!("{stem}_loader.js");
    fs::write(
        dist.join(&loader_name),
        format!("{loader}wasm_bindgen({{module_or_path:\"./{stem}_bg.wasm\"}});"),
    )?;
    Ok(loader_name)
}

/// Writes `sw-<hash>.js` precaching every file of the build but the data and the WebGPU worker
/// (kept when first fetched: only visitors with a hardware GPU load it); returns its name.
pub(crate) fn write_service_worker(dist: &Path) -> io::Result<String> {
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
    let template = include_str!("../../../web/sw.js");
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
    // Kept at first use instead (web/sw.js): the WebGPU engine, which only visitors with a
    // hardware GPU load, and the CPU engine for browsers without relaxed SIMD.
    let kept_at_first_use = |n: &str| {
        let hashed = |prefix: &str| {
            n.strip_prefix(prefix)
                .is_some_and(|rest| rest.get(..16).is_some_and(is_hash))
        };
        hashed("layerlab-worker-") || hashed(&format!("{}-", EngineKind::COMPAT_CPU_WORKER))
    };
    let precache: Vec<String> = std::iter::once("./".to_string())
        .chain(
            files
                .iter()
                .filter(|n| !kept_at_first_use(n))
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
