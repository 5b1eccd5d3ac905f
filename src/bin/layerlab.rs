//! The native command line: `layerlab run …`, `layerlab show …`.

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Err(e) = layerlab::cli::main_with(&args) {
        eprintln!("error: {}", e.message);
        std::process::exit(e.code);
    }
}

#[cfg(target_arch = "wasm32")]
fn main() {}
